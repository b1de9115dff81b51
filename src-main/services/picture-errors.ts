/** Pictures of stored files: a damaged stored file is the project's problem, not a bad request. */
import { ApiError } from '../api/contract.ts';
import { ImageReadError } from '../vision/image.ts';

export async function pictureOrError<T>(make: () => Promise<T>): Promise<T> {
  try {
    return await make();
  } catch (err) {
    if (err instanceof ImageReadError) throw new ApiError('PROJECT_CORRUPT', `a stored file cannot be decoded: ${err.reason}`);
    throw err;
  }
}
