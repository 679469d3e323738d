/** What `fn` throws, or undefined: for asserting on the error itself (its code, its message). */
export function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
