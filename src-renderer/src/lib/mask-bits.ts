/** A mask PNG (base64, the image's size; any non-zero pixel is on) as one byte per pixel, 1 = on. */
export async function maskBits(base64: string, width: number, height: number): Promise<Uint8Array> {
  const img = new Image();
  img.src = `data:image/png;base64,${base64}`;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(img, 0, 0, width, height);
  const px = ctx.getImageData(0, 0, width, height).data;
  const bits = new Uint8Array(width * height);
  for (let i = 0; i < bits.length; i++) bits[i] = px[i * 4]! > 0 || px[i * 4 + 1]! > 0 || px[i * 4 + 2]! > 0 ? 1 : 0;
  return bits;
}
