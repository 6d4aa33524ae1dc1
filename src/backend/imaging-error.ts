/**
 * How the built-in backend fails an image: an HTTP status and imaginary's message, with libvips'
 * error text made into one line.
 */

/** A failure of one image's processing: the status and message the backend answers with. */
export class ImagingError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const fail = (message: string): ImagingError =>
  new ImagingError(400, `Error while processing the image: ${vipsText(message)}`);

/**
 * libvips' error text as one line. It is a log of lines, one per layer that saw the failure, and a
 * loader's complaints come again each time the file is opened (a JPEG with a damaged header: the
 * same two lines three times, the first under "Input buffer has corrupt header: "). imaginary strips
 * the line breaks, gluing it all into one run; here a line an earlier one already says is dropped,
 * and the rest are joined by "; ".
 */
export function vipsText(message: string): string {
  const kept: string[] = [];
  for (const line of message.split(/\r?\n/).map((text) => text.trim())) {
    if (line !== "" && !kept.some((earlier) => earlier.includes(line))) kept.push(line);
  }
  return kept.join("; ");
}
