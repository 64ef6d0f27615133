// Every face of a group photo: its box, detector confidence, and how far each face's
// embedding is from every other (euclidean on l2-normalised embeddings).
import FaceNetKit
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    print("usage: group-faces PHOTO")
    exit(2)
}
do {
    let facenet = try FaceNet(preset: .facenet512Casia)
    let faces = try facenet.embedFaces(file: arguments[1], l2Normalize: true)
    for (n, face) in faces.enumerated() {
        print("face \(n): box \(face.face.map { "\($0.box.roundedXYWH), confidence \($0.confidence)" } ?? "whole image")")
    }
    for i in faces.indices {
        for j in faces.indices where j > i {
            let distance = try DistanceMetric.euclideanL2.distance(faces[i].embedding, faces[j].embedding)
            print("faces \(i) and \(j): distance \(String(format: "%.3f", distance))")
        }
    }
} catch {
    print("error: \(error.localizedDescription)")
    exit(1)
}
