/**
 * The ignore regions of a product's images: each image's own ignore mask and the product's region
 * (drawn once, any size), as PNG bytes for the worker, which unites and resizes them per image.
 */
import { images, masks, products, type Project } from '../store/index.ts';

export function ignoreMasksOf(p: Project, productId: number): (image: images.Image) => Uint8Array[] {
  const product = products.ignorePng(p, products.get(p, productId));
  return (image) => {
    const own = masks.find(p, image.id, 'ignore');
    return [...(own ? [new Uint8Array(masks.readPng(p, own))] : []), ...(product ? [new Uint8Array(product)] : [])];
  };
}
