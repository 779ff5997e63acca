#!/bin/sh
# java with Kafka's jars on the class path, as the distribution's script of the same name runs it.
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} ${KAFKA_OPTS:-} -Dlog4j.configuration=file:/opt/kafka/bin/log4j.properties \
  -cp '/opt/kafka/libs/*' "$@"
