/**
 * What the incremental record knows of an input (record.ts): the hash of its content, and its
 * size as displayed; and what makes its outputs (the key is rendition-key.ts's). The hash is read again only when
 * the file's version (device, inode, size, modification and change times) is not the one recorded:
 * a `touch` is read again and found the same, a rewrite keeping the modification time moves the
 * change time and is read again and found changed. As git's index does, a version is not recorded
 * when the file changed too recently to be sure a later write would move its times.
 */
import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync } from "node:fs";
import { createRequire } from "node:module";
import { readHeader } from "../../backend/header.js";
import { detectFormat } from "../../protocol/formats.js";
import { readFullySync } from "../../read-fully.js";
import type { Config } from "../../config.js";
import { fileIdentityOf } from "../../protocol/file-identity.js";
import { fileVersion, inputFlags, pieceBytes } from "./input-file.js";
import type { RecordedInput } from "./record.js";

/** An input's content, and its displayed size when it was asked for: its record entry without the outputs. */
export type InputFacts = Omit<RecordedInput, "outputs">;

/** A change this close (ms) to the hash is not recorded: timestamps are coarse (a kernel tick). */
const racyMs = 1000;

/**
 * The facts of the input at `realPath` (`identity`: the file planning checked): the recorded ones
 * when its version is the recorded one (and they include the size, if `withSize`), else read.
 * Throws when the file cannot be read as planned.
 */
export async function inputFactsOf(
  realPath: string,
  identity: string,
  recorded: RecordedInput | undefined,
  withSize: boolean,
): Promise<InputFacts> {
  const unchanged = unchangedFacts(realPath, recorded, withSize);
  if (unchanged) return unchanged.facts;
  const { hash, bytes, version, header } = hashFile(realPath, identity);
  // The same bytes have the same size: a fresh checkout (every file new, none changed) loads no
  // sharp and reads no header, where reading each took ~2 ms, one input after another. A JPEG or
  // PNG's size is read from the bytes hashed; sharp reads the others'.
  const isKnown = recorded?.hash === hash && recorded.width !== undefined;
  const size = isKnown ? recorded : withSize ? (header ?? (await displayedSize(realPath))) : {};
  return factsOf(hash, bytes, version, size);
}

/**
 * An input's facts, always built in this shape: objects of one shape share V8's description of
 * it, where spreading and assigning gave each of 10,000 inputs a description of its own (~300 bytes).
 */
function factsOf(
  hash: string,
  bytes: number,
  version: string | undefined,
  size: { width?: number; height?: number; format?: string },
): InputFacts {
  return { hash, bytes, version, width: size.width, height: size.height, format: size.format };
}

/**
 * The recorded facts of the input at `realPath` when the file's version is the recorded one (and
 * they include its size, if `withSize`): nothing to read. Undefined when it must be read.
 */
export function unchangedFacts(
  realPath: string,
  recorded: RecordedInput | undefined,
  withSize: boolean,
): { facts: InputFacts; identity: string } | undefined {
  if (recorded?.version === undefined || (withSize && recorded.width === undefined)) return undefined;
  const version = fileVersion(realPath);
  if (version !== recorded.version) return undefined;
  // A version is `<dev>:<ino>:…`: the file's identity (file-identity.ts) is its first two fields.
  const identity = version.split(":", 2).join(":");
  return { facts: factsOf(recorded.hash, recorded.bytes, recorded.version, recorded), identity };
}

/**
 * sha256 of the file, read in pieces; its version, unless it changed within racyMs of now; and the
 * displayed size of a JPEG or PNG whose header its first piece holds.
 */
function hashFile(path: string, identity: string): { hash: string; bytes: number; version?: string; header?: Size } {
  const fd = openSync(path, inputFlags);
  try {
    const stats = fstatSync(fd, { bigint: true });
    if (fileIdentityOf(stats) !== identity || !stats.isFile()) throw new Error(`${path} was replaced`);
    const digest = createHash("sha256");
    // Sized to the file (one more byte, so one read reaches its end): a fresh 1 MiB per input made V8
    // collect every few inputs (a checkout of 2,000 small inputs: ~0.6 s of its ~1.5 s in GC).
    const piece = Buffer.allocUnsafe(Math.min(pieceBytes, Number(stats.size) + 1));
    let bytes = 0;
    let header: Size | undefined;
    for (;;) {
      const read = readFullySync(fd, piece, bytes);
      if (bytes === 0) header = sizeFromStart(read, read.length < piece.length);
      if (read.length === 0) break;
      digest.update(read);
      bytes += read.length;
      if (read.length < piece.length) break;
    }
    const after = fstatSync(fd, { bigint: true });
    const changedMs = Number(after.ctimeNs / 1_000_000n);
    const isSettled = after.ctimeNs === stats.ctimeNs && Date.now() - changedMs > racyMs;
    const version = isSettled ? fileVersion(path) : undefined;
    return { hash: digest.digest("hex"), bytes, version, header };
  } finally {
    closeSync(fd);
  }
}

/** An image's size as shown (EXIF orientation applied), and its format as sharp names it. */
type Size = { width?: number; height?: number; format?: string };

/** The image's size as shown and its format, read by sharp from its header. */
function displayedSize(path: string): Promise<Size> {
  return imageHeader(path, true);
}

/**
 * The size as shown of a JPEG, or of a PNG that `first` holds whole, read from `first` (a file's
 * start) as the built-in backend reads it (backend/header.ts), sharp's size; undefined for any
 * other, or one it leaves to libvips.
 */
function sizeFromStart(first: Buffer, isWhole: boolean): Size | undefined {
  const format = detectFormat(first);
  // A PNG's eXIf chunk may come after a piece that ends before its image data: only whole files.
  if (format !== "jpeg" && !(format === "png" && isWhole)) return undefined;
  const header = readHeader(first, format);
  if (header === undefined) return undefined;
  const isTurned = header.orientation >= 5;
  return isTurned
    ? { width: header.height, height: header.width, format }
    : { width: header.width, height: header.height, format };
}

/**
 * An image's size (one frame's) and format, from its header; as shown when `oriented` (a portrait
 * taken sideways is taller than wide). Empty when sharp cannot read it: the backend says what it is.
 * sharp is loaded on first use, with no cache and one thread: the CLI reads headers, one at a
 * time, and each libvips thread would hold a malloc arena of its own.
 */
export async function imageHeader(
  path: string,
  oriented: boolean,
): Promise<{ width?: number; height?: number; format?: string }> {
  const { default: sharp } = await import("sharp");
  sharp.cache(false);
  sharp.concurrency(1);
  try {
    const meta = await sharp(path, { failOn: "none", limitInputPixels: false }).metadata();
    const height = meta.pageHeight ?? meta.height;
    if (meta.width === undefined || height === undefined) return {};
    const turned = oriented && (meta.orientation ?? 1) >= 5;
    return { width: turned ? height : meta.width, height: turned ? meta.width : height, format: meta.format };
  } catch {
    return {};
  }
}

/**
 * What makes an output: the backend's kind and version. The built-in backend is this package's
 * (with its sharp); an imaginary one is the image ACI runs. A pool with --with-local has both.
 */
export function producersOf(config: Config): { main: string; local: string | undefined } {
  const local = `builtin/${packageVersion("../../../package.json")}/sharp-${packageVersion("sharp/package.json")}`;
  if (config.provider === "local") return { main: local, local };
  return { main: `imaginary/${config.image}`, local: config.withLocal ? local : undefined };
}

function packageVersion(specifier: string): string {
  try {
    const manifest = createRequire(import.meta.url)(specifier) as { version?: unknown };
    return typeof manifest.version === "string" ? manifest.version : "unknown";
  } catch {
    return "unknown";
  }
}
