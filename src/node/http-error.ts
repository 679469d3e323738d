/** An HTTP error answered with Lavalink's error body (§1). */
import { STATUS_CODES } from 'node:http';

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ErrorBody {
  timestamp: number;
  status: number;
  error: string;
  message: string;
  path: string;
  trace?: string;
}

export function errorBody(
  status: number,
  message: string,
  path: string,
  trace: string | undefined,
): ErrorBody {
  return {
    timestamp: Date.now(),
    status,
    error: STATUS_CODES[status] ?? 'Error',
    message,
    path,
    ...(trace === undefined ? {} : { trace }),
  };
}
