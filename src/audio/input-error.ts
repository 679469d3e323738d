/** AUDIO_INPUT_ERROR for an input that failed; a VoxcordError cause is passed on as it is. */
import { isVoxcordError, VoxcordError } from '../errors.js';

export function inputError(
  message: string,
  cause?: unknown,
  details?: Record<string, unknown>,
): VoxcordError {
  if (cause !== undefined && isVoxcordError(cause)) return cause;
  return new VoxcordError('AUDIO_INPUT_ERROR', message, {
    ...(cause === undefined ? {} : { cause }),
    ...(details === undefined ? {} : { details }),
  });
}
