/**
 * What `process` says when the backend refuses an image, in the words of the person who ran it:
 * the input named, never imaginary's route; damaged data as E_BAD_INPUT with the decoder's
 * complaint and the flag that lets it through; the resolution limit with its value and the
 * settings that raise it. imaginary's status and message stay in the error's `detail`.
 */
import { AciimgError, isAciimgError } from "../../errors.js";
import type { BackendRecord } from "../../engine/types.js";
import { damagedComplaint } from "../../protocol/fail-on.js";
import { overResolutionMessage } from "../backend-settings.js";

/** The resolution refusals: imaginary's for the input, the built-in backend's for an animation's frames, the output. */
const overResolution = /^(Image resolution is too big|(Output )?(image resolution|animation) is too big\b)/i;

/** `error` as `process` reports it for `subject` (an input's name); anything but a refusal is returned as it is. */
export function refusalOf(
  error: unknown,
  subject: string,
  record: Pick<BackendRecord, "provider" | "name" | "spec">,
): unknown {
  if (!isAciimgError(error) || error.code !== "E_IMAGE") return error;
  const { status, message } = error.detail ?? {};
  if (typeof message !== "string") return error;
  const detail = { ...error.detail };
  const damaged = status === 400 ? damagedComplaint(message) : undefined;
  if (damaged) {
    return new AciimgError(
      "E_BAD_INPUT",
      `${subject} is damaged: ${damaged.complaint} (the decoder's complaint; --fail-on ${damaged.level} refuses it, ` +
        "--fail-on none processes what can be decoded)",
      { cause: error, detail: { ...detail, complaint: damaged.complaint } },
    );
  }
  if (status === 422 && overResolution.test(message)) {
    return new AciimgError("E_IMAGE", overResolutionMessage(record, message, subject), { cause: error, detail });
  }
  return error;
}
