// The lower level: load any Keras FaceNet, prepare one photo as the preset does, and read
// inner layers by name, with a planned session as repeated calls would use.
import FaceNetKit
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    print("usage: layer-outputs WEIGHTS.h5 PHOTO")
    exit(2)
}
do {
    let preset = Preset.facenet512Casia
    let model = try Model.load(weightsPath: arguments[1], topology: try preset.topology())
    let facenet = try FaceNet(model: model, preprocessing: preset.preprocessing, extraction: try .mtcnn())
    let input = try facenet.prepare(file: arguments[2])  // 160 × 160 × 3, HWC
    let inputName = model.topology.inputNames[0]
    let layers = ["Mixed_6a", "Mixed_7a", "Bottleneck_BatchNorm"]
    let session = try InferenceSession(model: model, inputShapes: [inputName: [1, 160, 160, 3]], outputs: layers)
    let outputs = try session.run([inputName: try Tensor(shape: [1, 160, 160, 3], scalars: input)])
    for layer in layers {
        guard let tensor = outputs[layer] else { continue }
        let mean = tensor.scalars.reduce(0, +) / Float(max(1, tensor.count))
        print("\(layer): shape \(tensor.shape), mean \(mean)")
    }
} catch {
    print("error: \(error.localizedDescription)")
    exit(1)
}
