// `import FaceNetKit` alone gives the whole user-facing API: the facade (`FaceNet`,
// `Preset`) with the engine (`Model`, `Tensor`, …) and vision (`ImageDecoder`, `MTCNN`, …)
// types it takes and returns.
@_exported import FaceNetKernels
@_exported import FaceNetEngine
@_exported import FaceNetVision
