export async function run(_args: string[]): Promise<number> {
  console.error('jitgate sessions: not available in this build yet');
  return 1;
}
