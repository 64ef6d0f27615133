// Are two photos the same person? The largest face of each, FaceNet-512 (CASIA), the
// weights' own threshold; says which faces it compared.
import FaceNetKit
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    print("usage: verify-photos A.jpg B.jpg")
    exit(2)
}
do {
    let facenet = try FaceNet(preset: .facenet512Casia)
    let result = try facenet.verify(arguments[1], arguments[2])
    print(result.verified ? "same person" : "different people",
          "(\(result.metric.rawValue) distance \(result.distance), threshold \(result.threshold))")
    for (file, (face, found)) in zip(arguments[1...], zip(result.faces, result.facesFound)) {
        print("  \(file): face \(face.map { "\($0.box.roundedXYWH)" } ?? "whole image") of \(found) found")
    }
} catch {
    print("error: \(error.localizedDescription)")
    exit(1)
}
