/** A small undici client for backend tests: POST/any method, returns status, headers, bytes. */
import { request } from "undici";

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bytes: Buffer;
  json(): unknown;
}

export async function call(
  base: string,
  path: string,
  init: { method?: string; body?: Buffer | string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const method = (init.method ?? "POST") as "POST";
  const res = await request(`${base}${path}`, { method, body: init.body ?? null, headers: init.headers ?? {} });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, bytes, json: () => JSON.parse(bytes.toString()) as unknown };
}

/** A multipart/form-data body with the given parts (files as application/octet-stream). */
export function multipart(parts: Array<{ name: string; data: Buffer | string; filename?: string }>): {
  body: Buffer;
  contentType: string;
} {
  const boundary = "----aciimgtest" + Math.random().toString(16).slice(2);
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ""}`;
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: ${disposition}\r\n` +
          `${p.filename ? "Content-Type: application/octet-stream\r\n" : ""}\r\n`,
      ),
    );
    chunks.push(Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data));
    chunks.push(Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
