// The ONNX Runtime peers' packages come from bench/package.json (`npm run bench:deps`) and may be
// absent: declared untyped here so that `tsc -p bench` needs no bench dependency installed.
declare module 'onnxruntime-node';
declare module 'onnxruntime-web';
