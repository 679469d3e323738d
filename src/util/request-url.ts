/**
 * The URL of an incoming HTTP request, or undefined when its target is none: `new URL` throws on
 * a target such as `//[`, and thrown in a request listener that ends the process, so one request
 * from anyone who can reach the port would stop a server.
 */
export function requestUrl(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}
