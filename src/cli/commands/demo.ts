export async function run(_args: string[]): Promise<number> {
  console.error('jitgate demo: not available in this build yet');
  return 1;
}
