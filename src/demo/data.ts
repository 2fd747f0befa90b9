/** Deterministic, realistic-looking fake customers for `jitgate demo` (no real person's data). */

const first = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Dennis', 'Radia', 'Linus', 'Shafi', 'Tim', 'Hedy', 'Leslie', 'Katherine', 'John', 'Sophie', 'Niklaus'];
const last = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Hamilton', 'Ritchie', 'Perlman', 'Torvalds', 'Goldwasser', 'Berners-Lee', 'Lamarr', 'Lamport', 'Johnson', 'Backus', 'Wilson', 'Wirth'];
const domains = ['example.com', 'example.org', 'example.net', 'mail.example.com'];
const notes = [
  'Prefers email contact.',
  'VIP since 2019; call before 5 pm.',
  'Asked to update billing address.',
  'Disputed a charge in March, resolved.',
  'Backup contact: {email}.',
  'Paid with card {card} last time.',
  'No notes.',
];

/** Tiny deterministic PRNG (mulberry32) so every demo shows the same rows. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function luhnComplete(digits: string): string {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return digits + String((10 - (sum % 10)) % 10);
}

export interface Customer {
  id: number;
  name: string;
  email: string;
  ssn: string;
  card_number: string;
  note: string;
}

export function demoCustomers(n = 50): Customer[] {
  const rnd = prng(20261204);
  const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)]!;
  const digits = (k: number) => Array.from({ length: k }, () => Math.floor(rnd() * 10)).join('');
  const out: Customer[] = [];
  for (let id = 1; id <= n; id++) {
    const f = pick(first);
    const l = pick(last);
    const email = `${f}.${l}`.toLowerCase().replace(/[^a-z.]/g, '') + `${id}@${pick(domains)}`;
    const ssn = `${100 + Math.floor(rnd() * 565)}-${10 + Math.floor(rnd() * 89)}-${1000 + Math.floor(rnd() * 8999)}`;
    const card = luhnComplete('4' + digits(14));
    const note = pick(notes).replace('{email}', `${f[0]!.toLowerCase()}${l.toLowerCase().replace(/[^a-z]/g, '')}@${pick(domains)}`).replace('{card}', card);
    out.push({ id, name: `${f} ${l}`, email, ssn, card_number: card, note });
  }
  return out;
}
