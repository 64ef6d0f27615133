import Foundation
import XCTest
@testable import FaceNetKernels
@testable import FaceNetEngine
@testable import FaceNetVision
@testable import FaceNetKit
@testable import FaceNetTools
import FaceNetTestSupport

/// The TensorFlow-graph importer and what it is built from: the GraphDef decoder
/// (swift-protobuf and the errors it is mapped to), SHA-256 and the weights digest, the
/// HDF5 writer. Fixtures come from `Scripts/make_graph_fixtures.py` (`Fixtures/graph/`); the real graph
/// (`Weights/graph_final.pb` or `$FACENET_GRAPH_PB`) and `../shared` are used when present.
final class GraphImportTests: XCTestCase {

    // MARK: - Protobuf decoding (swift-protobuf, mapped to FaceNetError)

    /// Packed and unpacked repeated values both decode (encoders may write either), every
    /// wire type of an unknown field is skipped, and the largest field number is legal.
    func testDecoderReadsBothEncodingsAndSkipsUnknownFields() throws {
        var unknown: [UInt8] = [0x48, 0x96, 0x01]                               // 9: varint 150
        unknown += [0x51, 1, 2, 3, 4, 5, 6, 7, 8]                               // 10: fixed64
        unknown += [0x5D, 0, 0, 0x80, 0x3F]                                     // 11: fixed32
        unknown += [0x62, 0x03] + Array("abc".utf8)                             // 12: bytes
        unknown += [0x6B, 0x08, 0x01, 0x12, 0x00, 0x6C]                         // 13: a group holding fields
        unknown += [0xF8, 0xFF, 0xFF, 0xFF, 0x0F, 0x00]                         // 2^29 - 1: varint 0
        var list = delimited(2, Array("abc".utf8))                              // s
        list += delimited(3, [0x01, 0x96, 0x01])                                // i packed: 1, 150
        list += [0x18] + [UInt8](repeating: 0xFF, count: 9) + [0x01]           // i unpacked: -1 (10 bytes)
        list += delimited(4, le(Float(-2).bitPattern) + le(Float(0.25).bitPattern))  // f packed
        list += [0x25] + le(Float(1.5).bitPattern)                              // f unpacked
        list += delimited(5, [0x01, 0x00]) + [0x28, 0x01]                       // b packed, b unpacked
        let attrs = delimited(5, delimited(1, Array("l".utf8)) + delimited(2, delimited(1, list) + unknown))
            + delimited(5, delimited(1, Array("t".utf8)) + delimited(2, [0x30, 0x09]))
            + delimited(5, delimited(1, Array("f".utf8)) + delimited(2, delimited(10, delimited(1, Array("fn".utf8)))))
        let node = delimited(1, Array("n".utf8)) + delimited(2, Array("Op".utf8)) + delimited(3, Array("a:1".utf8))
            + delimited(4, Array("/cpu:0".utf8)) + unknown + attrs
        let graph = try TFGraphDef(bytes: unknown + delimited(1, node) + unknown, source: "test")
        let decoded = try XCTUnwrap(graph.node(named: "n"))
        XCTAssertEqual(decoded.op, "Op")
        XCTAssertEqual(decoded.inputs, ["a:1"])
        XCTAssertEqual(decoded.device, "/cpu:0")
        guard case .list(let values)? = decoded.attrs["l"] else { return XCTFail("attr l should be a list") }
        XCTAssertEqual(values.strings, ["abc"])
        XCTAssertEqual(values.ints, [1, 150, -1])
        XCTAssertEqual(values.floats, [-2, 0.25, 1.5])
        XCTAssertEqual(values.bools, [true, false, true])
        guard case .type(.int64)? = decoded.attrs["t"] else { return XCTFail("attr t should be DT_INT64") }
        guard case .unsupported? = decoded.attrs["f"] else { return XCTFail("a function attr is unsupported") }
    }

    /// Malformed bytes are `invalidGraph` errors naming the file and what is wrong.
    func testDecoderRejectsMalformedInput() {
        /// A graph of one node 'n' with one attribute.
        func node(attr name: String, _ value: [UInt8]) -> [UInt8] {
            delimited(1, delimited(1, Array("n".utf8)) + delimited(5, delimited(1, Array(name.utf8)) + delimited(2, value)))
        }
        let cases: [(bytes: [UInt8], message: String)] = [
            ([0x0A, 0x05, 0x61], "more bytes than remain"),                             // length beyond the end
            ([0x0A] + [UInt8](repeating: 0xFF, count: 9) + [0x01], "malformed"),        // length 2^64 - 1 (over 2 GiB)
            ([0x18, 0x96], "malformed"),                                                // varint without its last byte
            ([0x18] + [UInt8](repeating: 0xFF, count: 10) + [0x01], "malformed"),       // varint of 11 bytes
            ([0x00, 0x00], "malformed"),                                                // field number 0
            ([0x80, 0x80, 0x80, 0x80, 0x10, 0x00], "malformed"),                        // field number 2^29
            ([0x0E, 0x00], "malformed"),                                                // wire type 6
            ([0x1C], "malformed"),                                                      // a group's end, no start
            ([0x1B, 0x18, 0x00], "more bytes than remain"),                             // a group never ended
            ([0x1D, 0x00, 0x00], "more bytes than remain"),                             // fixed32 with 2 bytes
            ([0x19, 0x00], "more bytes than remain"),                                   // fixed64 with 1 byte
            (delimited(1, delimited(1, [0xFF, 0xFE])), "not valid UTF-8"),              // a node name
            (node(attr: "a", delimited(1, delimited(2, [0xC3]))),                       // a list(string) value
             "node 'n', attribute 'a': a list(string) value is not valid UTF-8"),
            (node(attr: "s", delimited(7, delimited(2, [0x08, 0x80, 0x80, 0x80, 0x80, 0x08]))),  // shape [2^31]
             "node 'n', attribute 's': tensor dimension 2147483648 is out of range"),
        ]
        for (bytes, message) in cases {
            assertGraphError(try TFGraphDef(bytes: bytes, source: "bad.pb"), contains: message, "bytes \(bytes)")
        }
    }

    /// A field of a known number but another wire type is an unknown field, as protobuf
    /// decodes it: skipped, not reinterpreted (here the node's name, so the node has none).
    func testWrongWireTypeIsAnUnknownField() {
        assertGraphError(try TFGraphDef(bytes: delimited(1, [0x08, 0x05] + delimited(2, Array("Op".utf8))), source: "t.pb"),
                         contains: "node 0 (op Op) has no name")
        assertGraphError(try TFGraphDef(bytes: [0x08, 0x05], source: "t.pb"), contains: "holds no nodes")
    }

    func testDecoderLimitsNesting() throws {
        // Groups in an unknown field (GraphDef field 3), `levels` deep, then one node; the
        // GraphDef itself is the first level.
        func nested(_ levels: Int) -> [UInt8] {
            [UInt8](repeating: 0x1B, count: levels) + [UInt8](repeating: 0x1C, count: levels)
                + delimited(1, delimited(1, Array("n".utf8)))
        }
        XCTAssertEqual(try TFGraphDef(bytes: nested(TFGraphDef.maxMessageDepth - 1), source: "ok").nodes.count, 1)
        assertGraphError(try TFGraphDef(bytes: nested(TFGraphDef.maxMessageDepth), source: "deep.pb"),
                         contains: "nest deeper than \(TFGraphDef.maxMessageDepth)")
        assertGraphError(try TFGraphDef(bytes: nested(100_000), source: "deep.pb"),
                         contains: "nest deeper than \(TFGraphDef.maxMessageDepth)")
    }

    // MARK: - SHA-256 and the weights digest

    func testSHA256HexKnownVectors() {
        // FIPS 180-4 examples: the digest (swift-crypto) and our hex formatting of it.
        XCTAssertEqual(sha256Hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(sha256Hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(sha256Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testWeightsDigestIsCanonical() throws {
        let tensors: [String: [String: Tensor]] = [
            "Dense": ["kernel": try Tensor(shape: [], scalars: [3.25])],
            "Conv": ["kernel": try Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5]),
                     "bias": try Tensor(shape: [2], scalars: [0.5, -0.0])],
            "Activation": [:],
        ]
        // Computed independently with Python's hashlib over the documented byte stream.
        XCTAssertEqual(WeightsDigest.digest(of: tensors), "50adb87b0c6f38cfd62537707281232fbd3fe6a253f2ccc55e9b4b30f1b4bb97")
        var changed = tensors
        changed["Conv"]?["bias"] = try Tensor(shape: [2], scalars: [0.5, 0])
        XCTAssertNotEqual(WeightsDigest.digest(of: changed), WeightsDigest.digest(of: tensors), "-0.0 and 0.0 differ")
        changed = tensors
        changed["Conv"]?["kernel"] = try Tensor(shape: [3, 2], scalars: [0, 1, 2, 3, 4, 5])
        XCTAssertNotEqual(WeightsDigest.digest(of: changed), WeightsDigest.digest(of: tensors), "shape counts")
        changed = tensors
        changed["Conv2"] = changed.removeValue(forKey: "Conv")
        XCTAssertNotEqual(WeightsDigest.digest(of: changed), WeightsDigest.digest(of: tensors), "names count")
    }

    // MARK: - GraphDef decoding

    func testDecodesTheBasicGraphAsTensorFlowDoes() throws {
        let graph = try TFGraphDef.read(path: Paths.fixture("graph/basic.pb"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Paths.fixture("graph/basic.json"))))
        let expected = try XCTUnwrap((json as? [String: Any])?["nodes"] as? [[String: Any]])
        XCTAssertEqual(graph.nodes.map(\.name), expected.compactMap { $0["name"] as? String })
        XCTAssertEqual(graph.nodes.map(\.op), expected.compactMap { $0["op"] as? String })
        for (node, entry) in zip(graph.nodes, expected) {
            XCTAssertEqual(node.inputs, entry["inputs"] as? [String], node.name)
        }
        let constants = try graph.floatConstants()
        XCTAssertEqual(constants.map(\.name), ["content", "splat", "scalar", "packed", "zeros", "unpacked"])
        for constant in constants {
            let entry = try XCTUnwrap(expected.first { $0["name"] as? String == constant.name })
            XCTAssertEqual(constant.tensor.shape, entry["shape"] as? [Int], constant.name)
            let values = try XCTUnwrap(entry["values"] as? [Double]).map { Float($0) }
            XCTAssertEqual(constant.tensor.scalars, values, constant.name)
        }
        // The int32 constant is not a float one, and says so when asked.
        let ints = try XCTUnwrap(graph.node(named: "ints"))
        let tensor = try XCTUnwrap(try graph.constantTensor(ints))
        XCTAssertEqual(tensor.dtype, .int32)
        assertGraphError(try tensor.floatTensor(source: "basic.pb", node: "ints"), contains: "DT_INT32")
        // Attributes: a bool, a type, a shape with an unknown dimension.
        guard case .bool(true)? = graph.node(named: "matmul")?.attrs["transpose_b"] else {
            return XCTFail("matmul should have transpose_b = true")
        }
        guard case .type(.float)? = graph.node(named: "x")?.attrs["dtype"],
              case .shape(let shape?)? = graph.node(named: "x")?.attrs["shape"] else {
            return XCTFail("placeholder x should have dtype and shape attributes")
        }
        XCTAssertEqual(shape, [-1, 3])
    }

    func testRejectsFilesThatAreNotGraphs() throws {
        let directory = try temporaryDirectory()
        let graphBytes = try fixtureBytes("graph/tiny_facenet.pb")
        let cases: [(name: String, bytes: [UInt8], message: String)] = [
            ("truncated.pb", Array(graphBytes.prefix(graphBytes.count / 2)), "more bytes than remain"),
            ("text.pbtxt", Array("node {\n  name: \"x\"\n  op: \"Const\"\n}\n".utf8), "looks like text"),
            ("empty.pb", [], "empty"),
            ("wheel.whl", [0x50, 0x4B, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00], "zip archive"),
            ("weights.h5", try fixtureBytes("graph/tiny_facenet_expected.h5"), "HDF5"),
        ]
        for (name, bytes, message) in cases {
            let path = directory.appendingPathComponent(name).path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            assertGraphError(try TFGraphDef.read(path: path), contains: message, name)
        }
        XCTAssertThrowsError(try TFGraphDef.read(path: directory.appendingPathComponent("missing.pb").path)) { error in
            guard case FaceNetError.unreadableFile(_, let reason)? = error as? FaceNetError else {
                return XCTFail("expected unreadableFile, got \(error)")
            }
            XCTAssertTrue(reason.contains("no such file"), reason)
        }
    }

    func testCorruptGraphsThrowOrDecodeButNeverCrash() throws {
        let bytes = try fixtureBytes("graph/basic.pb")
        var outcomes = (decoded: 0, rejected: 0)
        func attempt(_ candidate: [UInt8]) {
            do {
                let graph = try TFGraphDef(bytes: candidate, source: "fuzz.pb")
                _ = try? graph.floatConstants()
                outcomes.decoded += 1
            } catch FaceNetError.invalidGraph {
                outcomes.rejected += 1
            } catch {
                XCTFail("unexpected error \(error)")
            }
        }
        for length in 0..<bytes.count { attempt(Array(bytes.prefix(length))) }
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<3000 {
            var mutated = bytes
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            attempt(mutated)
        }
        XCTAssertGreaterThan(outcomes.rejected, 0)
        XCTAssertGreaterThan(outcomes.decoded, 0)
    }

    // MARK: - Importer on the tiny FaceNet graph

    func testImportsTheTinyGraphExactly() throws {
        let imported = try importTiny(try fixtureBytes("graph/tiny_facenet.pb"))
        let summary = imported.summary
        XCTAssertEqual(summary.convKernels, 56)
        XCTAssertEqual(summary.denseKernels, 1)
        XCTAssertEqual(summary.convBiases, 7)
        XCTAssertEqual(summary.foldedBatchNorms, 49)
        XCTAssertEqual(summary.batchNorms, 1)
        XCTAssertEqual(summary.residualScales, 7)
        XCTAssertEqual(summary.graphTensors, 56 + 1 + 7 + 49 + 4)
        XCTAssertEqual(summary.ignoredScalars, ["embeddings/Maximum/y"])
        XCTAssertEqual(summary.kerasWeights, 56 + 7 + 50 * 3 + 1)

        let expected = try KerasWeightsReader.load(path: Paths.fixture("graph/tiny_facenet_expected.h5"), specs: imported.specs)
        assertSameTensors(imported.weights, expected, tolerance: 0)
        XCTAssertEqual(WeightsDigest.digest(of: imported.weights), WeightsDigest.digest(of: expected))

        // Run it: the folded weights give Keras's outputs on the unfolded ones.
        let manifest = try GoldenManifest(path: Paths.fixture("tiny/manifest.json"))
        let model = try Model(topology: try tinyTopology(), weights: imported.weights)
        let input = try manifest.readTensor(manifest.inputFile, shape: manifest.inputShape)
        let entry = try XCTUnwrap(manifest.outputs.first { $0.name == "Bottleneck_BatchNorm" })
        let reference = try manifest.readTensor(entry.file, shape: entry.shape)
        let output = try XCTUnwrap(try model.predict(input, outputs: ["Bottleneck_BatchNorm"])["Bottleneck_BatchNorm"])
        let magnitude = maxMagnitude(reference.scalars)
        XCTAssertLessThanOrEqual(maxAbsDifference(output, reference), 1e-4 * max(1, magnitude))
    }

    func testWritesWhatItImportedAndReadsItBack() throws {
        let directory = try temporaryDirectory()
        let output = directory.appendingPathComponent("tiny_imported.h5").path
        let graphPath = Paths.fixture("graph/tiny_facenet.pb")
        let imported = try FaceNetGraphImporter.importFile(
            graphPath: graphPath, topologyPath: Paths.fixture("tiny/topology_keras22.json"), outputPath: output)
        let reread = try KerasWeightsReader.load(path: output, specs: imported.specs)
        XCTAssertEqual(reread.layout, .saveWeights)
        XCTAssertEqual(WeightsDigest.digest(of: reread), WeightsDigest.digest(of: imported.weights))
        // Same structure as the tf_keras-layout reference written by h5py.
        let written = try HDF5File(path: output), reference = try HDF5File(path: Paths.fixture("graph/tiny_facenet_expected.h5"))
        XCTAssertEqual(try written.stringAttribute("layer_names", on: "/"), try reference.stringAttribute("layer_names", on: "/"))
        XCTAssertEqual(try written.stringAttribute("backend", on: "/"), ["tensorflow"])
        XCTAssertEqual(try written.members(ofGroup: "/"), try reference.members(ofGroup: "/"))
        for layer in try reference.stringAttribute("layer_names", on: "/") + ["top_level_model_weights"] {
            XCTAssertEqual(try written.stringAttribute("weight_names", on: "/" + layer),
                           try reference.stringAttribute("weight_names", on: "/" + layer), layer)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["tiny_imported.h5"],
                       "no temporary file left behind")
    }

    func testReportsMissingAndUnusedConstants() throws {
        let bytes = try fixtureBytes("graph/tiny_facenet.pb")
        // A whole conv gone: its Keras weights have no constant.
        let conv = "InceptionResnetV1/Repeat_2/block8_1/Branch_0/Conv2d_1x1/"
        assertGraphError(try importTiny(try graphBytes(bytes, droppingNodes: { $0.hasPrefix(conv) })),
                         contains: "no constant for 4 weight(s) of the topology: Block8_1_Branch_0_Conv2d_1x1/kernel, "
                             + "Block8_1_Branch_0_Conv2d_1x1_BatchNorm/beta")
        // An up-projection's bias gone: its BiasAdd reads nothing.
        let bias = "InceptionResnetV1/Repeat/block35_1/Conv2d_1x1/biases"
        assertGraphError(try importTiny(try graphBytes(bytes, droppingNodes: { $0 == bias })),
                         contains: "('\(bias)') is not a float32 constant")
        // A float constant nothing maps: an error, not silently dropped.
        let stray = try graphBytes(try fixtureBytes("graph/basic.pb"), droppingNodes: { $0 != "content" })
        assertGraphError(try importTiny(bytes + stray), contains: "1 float constant(s) of the graph map to no Keras weight: content")
        // The residual scale must agree with the topology's Lambda.
        let scale = "InceptionResnetV1/Repeat_1/block17_2/mul/x"
        let rescaled = try graphBytes(bytes, droppingNodes: { $0 == scale }) + nodeBytes(floatConstant: scale, value: 0.5)
        assertGraphError(try importTiny(rescaled), contains: "by 0.5; the topology's 'lambda_4' by 0.1")
        // Another topology: shapes disagree, named.
        let graph = try TFGraphDef(bytes: bytes, source: "tiny_facenet.pb")
        let facenet = try KerasJSONReader.read(path: Paths.packageRoot.appendingPathComponent("Weights/facenet512.json").path)
        assertGraphError(try FaceNetGraphImporter.importGraph(graph, topology: facenet),
                         contains: "constant 'InceptionResnetV1/Conv2d_1a_3x3/weights' has shape [3, 3, 3, 3]")
    }

    func testMapsGraphScopesToKerasNames() {
        let cases: [(String, String?)] = [
            ("InceptionResnetV1/Conv2d_1a_3x3", "Conv2d_1a_3x3"),
            ("InceptionResnetV1/Mixed_6a/Branch_1/Conv2d_0a_1x1", "Mixed_6a_Branch_1_Conv2d_0a_1x1"),
            ("InceptionResnetV1/Repeat/block35_5/Branch_2/Conv2d_0c_3x3", "Block35_5_Branch_2_Conv2d_0c_3x3"),
            ("InceptionResnetV1/Repeat_1/block17_10/Conv2d_1x1", "Block17_10_Conv2d_1x1"),
            ("InceptionResnetV1/Repeat_2/block8_3/Branch_1/Conv2d_0b_1x3", "Block8_3_Branch_1_Conv2d_0b_1x3"),
            ("InceptionResnetV1/Block8/Conv2d_1x1", "Block8_6_Conv2d_1x1"),
            ("InceptionResnetV1/Bottleneck/BatchNorm", "Bottleneck_BatchNorm"),
            ("InceptionResnetV1/Bottleneck", "Bottleneck"),
            ("InceptionResnetV1", nil),
            ("embeddings", nil),
            ("Other/Conv2d_1a_3x3", nil),
            ("InceptionResnetV1//Conv", nil),
        ]
        for (scope, keras) in cases {
            XCTAssertEqual(FaceNetGraphImporter.kerasLayerName(scope: scope), keras, scope)
        }
    }

    // MARK: - HDF5 writer

    func testWriterRoundTripsThroughTheReader() throws {
        let directory = try temporaryDirectory()
        let path = directory.appendingPathComponent("weights.h5").path
        let specs = [
            LayerWeightSpec(layerName: "input_1", className: "InputLayer", weights: []),
            LayerWeightSpec(layerName: "conv", className: "Conv2D",
                            weights: [WeightSpec(name: "kernel", shape: [3, 3, 2, 4]), WeightSpec(name: "bias", shape: [4])]),
            LayerWeightSpec(layerName: "conv_BatchNorm", className: "BatchNormalization",
                            weights: ["beta", "moving_mean", "moving_variance"].map { WeightSpec(name: $0, shape: [4]) }),
            LayerWeightSpec(layerName: "relu", className: "Activation", weights: []),
        ]
        let tensors: [String: [String: Tensor]] = [
            "conv": ["kernel": randomTensor([3, 3, 2, 4], seed: 1), "bias": randomTensor([4], seed: 2)],
            "conv_BatchNorm": ["beta": randomTensor([4], seed: 3), "moving_mean": randomTensor([4], seed: 4),
                               "moving_variance": randomTensor([4], seed: 5, range: 0.5...2)],
        ]
        try HDF5Writer.writeKerasWeights(tensors, specs: specs, to: path)
        let loaded = try KerasWeightsReader.load(path: path, specs: specs)
        XCTAssertEqual(loaded.layout, .saveWeights)
        XCTAssertEqual(loaded.tensors, tensors)
        let file = try HDF5File(path: path)
        XCTAssertEqual(try file.stringAttribute("layer_names", on: "/"), ["input_1", "conv", "conv_BatchNorm", "relu"])
        XCTAssertEqual(try file.stringAttribute("keras_version", on: "/"), [HDF5Writer.defaultKerasVersion])
        XCTAssertEqual(try file.stringAttribute("weight_names", on: "/conv"), ["conv/kernel:0", "conv/bias:0"])
        XCTAssertEqual(try file.stringAttribute("weight_names", on: "/relu"), [])
        XCTAssertEqual(try file.kind(of: "/conv/conv/kernel:0"), .dataset)

        // Same weights, same bytes: no timestamps in the file.
        let again = directory.appendingPathComponent("again.h5").path
        try HDF5Writer.writeKerasWeights(tensors, specs: specs, to: again)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), try Data(contentsOf: URL(fileURLWithPath: again)))

        // Rewriting replaces the file; a failed write leaves it as it was and no temporary file.
        var changed = tensors
        changed["conv"]?["bias"] = try Tensor(shape: [4], scalars: [1, 2, 3, 4])
        try HDF5Writer.writeKerasWeights(changed, specs: specs, to: path)
        XCTAssertEqual(try KerasWeightsReader.load(path: path, specs: specs).tensors, changed)
        changed["conv"]?["bias"] = try Tensor(shape: [5], scalars: [1, 2, 3, 4, 5])
        XCTAssertThrowsError(try HDF5Writer.writeKerasWeights(changed, specs: specs, to: path))
        changed["conv"]?["bias"] = nil
        XCTAssertThrowsError(try HDF5Writer.writeKerasWeights(changed, specs: specs, to: path))
        XCTAssertThrowsError(try HDF5Writer.writeKerasWeights(tensors, specs: specs,
                                                              to: directory.appendingPathComponent("no/such/dir.h5").path))
        XCTAssertEqual(try KerasWeightsReader.load(path: path, specs: specs).tensors["conv"]?["bias"]?.scalars, [1, 2, 3, 4])
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: directory.path)), ["weights.h5", "again.h5"])
    }

    func testWriterSplitsLongNameListsAsKerasDoes() throws {
        let path = try temporaryDirectory().appendingPathComponent("many.h5").path
        let specs = (0..<5000).map { LayerWeightSpec(layerName: "layer_\($0)", className: "Activation", weights: []) }
            + [LayerWeightSpec(layerName: "dense", className: "Dense", weights: [WeightSpec(name: "kernel", shape: [2, 3])])]
        let tensors = ["dense": ["kernel": randomTensor([2, 3], seed: 9)]]
        try HDF5Writer.writeKerasWeights(tensors, specs: specs, to: path)
        let file = try HDF5File(path: path)
        XCTAssertFalse(try file.hasAttribute("layer_names", on: "/"))
        XCTAssertTrue(try file.hasAttribute("layer_names1", on: "/"))
        XCTAssertEqual(try KerasWeightsReader.splitStringAttribute(file, "layer_names", on: "/"), specs.map(\.layerName))
        XCTAssertEqual(try KerasWeightsReader.load(path: path, specs: specs).tensors, tensors)
    }

    // MARK: - The real graph (when available)

    func testImportsTheRealGraphLikeTheSharedFile() throws {
        let graphPath = try realGraphPath()
        let sharedPath = try Paths.shared("models/facenet512_casia.h5")
        let topologyPath = Paths.packageRoot.appendingPathComponent("Weights/facenet512.json").path
        let topology = try KerasJSONReader.read(path: topologyPath)
        let imported = try FaceNetGraphImporter.importGraph(try TFGraphDef.read(path: graphPath), topology: topology)
        let summary = imported.summary
        XCTAssertEqual([summary.convKernels, summary.denseKernels, summary.convBiases, summary.foldedBatchNorms,
                        summary.batchNorms, summary.residualScales], [132, 1, 21, 111, 1, 21])
        XCTAssertEqual(summary.graphTensors, 133 + 111 + 21 + 4)
        XCTAssertEqual(summary.kerasWeights, 490)
        let shared = try KerasWeightsReader.load(path: sharedPath, specs: imported.specs)
        assertSameTensors(imported.weights, shared, tolerance: 1e-6)
        XCTAssertEqual(WeightsDigest.digest(of: imported.weights), WeightsDigest.digest(of: shared))
    }

    // MARK: - Helpers

    private func realGraphPath() throws -> String {
        let candidates: [String?] = [ProcessInfo.processInfo.environment["FACENET_GRAPH_PB"],
                                     Paths.packageRoot.appendingPathComponent("Weights/graph_final.pb").path]
        for case let path? in candidates where FileManager.default.fileExists(atPath: path) { return path }
        throw XCTSkip("the real FaceNet graph is absent (Weights/graph_final.pb or $FACENET_GRAPH_PB; Scripts/fetch-weights.sh fetches it)")
    }

    private func tinyTopology() throws -> ModelTopology {
        try KerasJSONReader.read(path: Paths.fixture("tiny/topology_keras22.json"))
    }

    private func importTiny(_ bytes: [UInt8]) throws -> FaceNetGraphImport {
        try FaceNetGraphImporter.importGraph(try TFGraphDef(bytes: bytes, source: "tiny_facenet.pb"), topology: try tinyTopology())
    }

    private func fixtureBytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: Paths.fixture(relative))))
    }

    /// The GraphDef without the nodes whose name matches, re-encoded (other fields kept).
    private func graphBytes(_ bytes: [UInt8], droppingNodes drop: (String) -> Bool) throws -> [UInt8] {
        var graph = try Tensorflow_GraphDef(serializedBytes: bytes)
        graph.node.removeAll { drop($0.name) }
        return try graph.serializedBytes()
    }

    /// A GraphDef `node` field holding a scalar float Const.
    private func nodeBytes(floatConstant name: String, value: Float) -> [UInt8] {
        let tensor: [UInt8] = [0x08, 0x01] + delimited(2, []) + [0x2D] + le(value.bitPattern)
        let attr = delimited(1, Array("value".utf8)) + delimited(2, delimited(8, tensor))
        let node = delimited(1, Array(name.utf8)) + delimited(2, Array("Const".utf8)) + delimited(5, attr)
        return delimited(1, node)
    }

    private func assertSameTensors(_ a: LoadedWeights, _ b: LoadedWeights, tolerance: Float,
                                   file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(a.tensors.keys), Set(b.tensors.keys), file: file, line: line)
        var worst: Float = 0
        for (layer, weights) in a.tensors {
            XCTAssertEqual(Set(weights.keys), Set(b.tensors[layer].map { Array($0.keys) } ?? []), layer, file: file, line: line)
            for (name, tensor) in weights {
                guard let other = b.tensors[layer]?[name], other.shape == tensor.shape else {
                    XCTFail("\(layer)/\(name): missing or of another shape", file: file, line: line)
                    continue
                }
                worst = max(worst, maxAbsDifference(tensor, other))
            }
        }
        XCTAssertLessThanOrEqual(worst, tolerance, "max abs difference over all tensors", file: file, line: line)
    }

    private func assertGraphError<T>(_ body: @autoclosure () throws -> T, contains text: String, _ label: String = "",
                                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), label, file: file, line: line) { error in
            guard case FaceNetError.invalidGraph(_, let reason)? = error as? FaceNetError else {
                return XCTFail("\(label): expected invalidGraph, got \(error)", file: file, line: line)
            }
            XCTAssertTrue(reason.contains(text), "\(label): '\(reason)' does not contain '\(text)'", file: file, line: line)
        }
    }
}

private func varint(_ value: UInt64) -> [UInt8] {
    var value = value
    var bytes: [UInt8] = []
    repeat {
        bytes.append(UInt8(value & 0x7F) | (value >= 0x80 ? 0x80 : 0))
        value >>= 7
    } while value > 0
    return bytes
}

/// A length-delimited field: key (wire type 2), length, payload.
private func delimited(_ number: Int, _ payload: [UInt8]) -> [UInt8] {
    varint(UInt64(number << 3 | 2)) + varint(UInt64(payload.count)) + payload
}

private func le(_ value: UInt32) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) }
}
