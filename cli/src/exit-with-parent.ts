/**
 * Preloaded into every service `flowlogs up` runs (`node --import tsx --import this`). The service's
 * stdin is a pipe from `up`; the kernel closes it when `up` exits however it does, SIGKILL included,
 * and the service then ends at once: no service outlives `up`. (A pipe rather than polling the parent
 * pid; prctl(PR_SET_PDEATHSIG) is out of Node's reach.) At once, with SIGKILL, rather than a graceful
 * stop: the service's stdout and stderr are pipes to `up` too, now broken, and its logger would block
 * on them (pino retrying EPIPE); the services are built to lose nothing to a kill -9.
 */
process.stdin.on('error', () => {}); // a reset pipe means the same as its end
process.stdin.once('close', () => process.kill(process.pid, 'SIGKILL'));
process.stdin.resume(); // `up` never writes; only the end matters
process.stdin.unref?.(); // the pipe alone does not keep a service running
