// Made examples/sample.jpg once (committed): node examples/make-sample.mjs
import sharp from "sharp";
const w = 1200,
  h = 800;
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#2b6cb0"/>
<stop offset="1" stop-color="#fbd38d"/></linearGradient></defs>
<rect width="${w}" height="${h}" fill="url(#sky)"/>
<circle cx="880" cy="240" r="110" fill="#fff5d6"/>
<polygon points="0,800 320,380 560,800" fill="#2f855a"/>
<polygon points="300,800 700,300 1100,800" fill="#276749"/>
<polygon points="760,800 1000,470 1200,650 1200,800" fill="#22543d"/>
<rect x="0" y="720" width="${w}" height="80" fill="#1a365d" opacity="0.6"/>
</svg>`;
await sharp(Buffer.from(svg)).jpeg({ quality: 82 }).toFile("examples/sample.jpg");
console.log(
  await sharp("examples/sample.jpg")
    .metadata()
    .then((m) => [m.width, m.height, m.size]),
);
