/** The integer after the option at argv[i] (a benchmark's `--name N`), at least `min`; a clear error otherwise. */
export function intOption(argv: string[], i: number, name: string, min = 1): number {
  const value = Number(argv[i + 1]);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} needs an integer ≥ ${min}`);
  return value;
}
