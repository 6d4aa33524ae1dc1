/**
 * Images that carry what a phone or an editor writes into a file (camera, GPS, XMP, a wide-gamut
 * profile, EXIF orientation) or transparency, and readers for what an output kept of it.
 */
import sharp, { type Metadata } from "sharp";
import { expect } from "vitest";
import { makeOrientedJpeg, type Rgb } from "./images.js";

/** The EXIF tag in IFD0 that points to the GPS data. */
export const gpsPointerTag = 0x8825;

/** What an editor writes as XMP. */
const xmp = `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""
 xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="PhotoEditor 9"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`;

/**
 * A photo as a phone writes it: camera make and model, a GPS position, XMP, a Display P3 profile
 * and EXIF orientation 6. Stored 200×300; shown upright it is 300×200 with red at the top left.
 */
export async function makeCameraJpeg(): Promise<Buffer> {
  return sharp(await makeOrientedJpeg(6))
    .jpeg({ quality: 95 })
    .withExif({
      IFD0: { Make: "ACME", Model: "Pocket 7" },
      IFD3: {
        GPSLatitudeRef: "N",
        GPSLatitude: "52/1 31/1 12/1",
        GPSLongitudeRef: "E",
        GPSLongitude: "13/1 24/1 36/1",
      },
    })
    .withMetadata({ orientation: 6 })
    .withIccProfile("p3")
    .withXmp(xmp)
    .toBuffer();
}

/** The tags of an EXIF block's first IFD (sharp's `metadata().exif`: "Exif\0\0" then TIFF). */
export function exifTags(exif: Buffer): number[] {
  const tiff = exif.subarray(6);
  const little = tiff.toString("latin1", 0, 2) === "II";
  const u16 = (at: number): number => (little ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const ifd0 = little ? tiff.readUInt32LE(4) : tiff.readUInt32BE(4);
  return Array.from({ length: u16(ifd0) }, (_, i) => u16(ifd0 + 2 + i * 12));
}

/** A 40×40 image whose left half is fully transparent and right half opaque blue. */
export async function makeHalfTransparent(format: "png" | "webp"): Promise<Buffer> {
  const data = Buffer.alloc(40 * 40 * 4);
  for (let i = 0; i < 40 * 40; i += 1) if (i % 40 >= 20) data.set([0, 0, 255, 255], i * 4);
  const img = sharp(data, { raw: { width: 40, height: 40, channels: 4 } });
  return format === "png" ? img.png().toBuffer() : img.webp({ lossless: true }).toBuffer();
}

/** The RGBA value at (x, y), alpha 255 when the image has none. */
export async function rgbaAt(image: Buffer, x: number, y: number): Promise<[...Rgb, number]> {
  const { data, info } = await sharp(image).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * 4;
  return [data[i] ?? -1, data[i + 1] ?? -1, data[i + 2] ?? -1, data[i + 3] ?? -1];
}

/**
 * Expects an output of makeCameraJpeg's photo at width 150 to have kept its metadata: the camera
 * model given, the GPS pointer, XMP and the profile, turned upright with the orientation reset to 1.
 */
export function expectCameraKept(meta: Metadata, model: string): void {
  expect(meta.exif?.toString("latin1")).toContain(model);
  expect(exifTags(meta.exif ?? Buffer.alloc(0))).toContain(gpsPointerTag);
  const kept = [Boolean(meta.xmp), Boolean(meta.icc), meta.orientation, meta.width, meta.height];
  expect(kept).toEqual([true, true, 1, 150, 100]);
}
