// Embeds every photo of a folder (largest face each) as JSON lines on stdout, with
// progress on stderr; Ctrl-C cancels between images.
import FaceNetKit
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    print("usage: embed-folder FOLDER")
    exit(2)
}
let folder = URL(fileURLWithPath: arguments[1])
let files = (try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil))?
    .filter { ["jpg", "jpeg", "png", "webp"].contains($0.pathExtension.lowercased()) }
    .map(\.path).sorted() ?? []
do {
    let facenet = try FaceNet(preset: .facenet512Casia)
    let results = try await facenet.embed(files: files, l2Normalize: true) { done, total in
        FileHandle.standardError.write(Data("\rembedded \(done)/\(total)".utf8))
    }
    FileHandle.standardError.write(Data("\n".utf8))
    for (file, result) in results {
        switch result {
        case .success(let embedding):
            let data = try JSONSerialization.data(withJSONObject: ["file": file, "embedding": embedding.map(Double.init)])
            print(String(decoding: data, as: UTF8.self))
        case .failure(let error):
            FileHandle.standardError.write(Data("\(error.localizedDescription)\n".utf8))
        }
    }
} catch {
    print("error: \(error.localizedDescription)")
    exit(1)
}
