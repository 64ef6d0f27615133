import Foundation
import XCTest

/// `detect` and `bench-detect` with the MTCNN weights committed in `Weights/mtcnn`. The
/// oracle is `Fixtures/mtcnn_stages/stages.json`: the Python `mtcnn` package's final
/// (O-Net) faces for the same photos, as [x1, y1, x2, y2, score, 5 landmark x, 5 landmark y].
final class DetectionCLITests: CLITestCase {
    private func packageFaces(_ photo: String) throws -> (width: Int, height: Int, faces: [[Double]]) {
        let stages = try readJSON(CLIPaths.fixture("mtcnn_stages/stages.json"))
        let photos = try XCTUnwrap(stages["photos"] as? [[String: Any]])
        let entry = try XCTUnwrap(photos.first { $0["name"] as? String == photo }, "\(photo) not in stages.json")
        let faces = try XCTUnwrap(entry["onet"] as? [[Any]]).map { $0.compactMap(number) }
        return (try XCTUnwrap(number(entry["width"]).map(Int.init)), try XCTUnwrap(number(entry["height"]).map(Int.init)), faces)
    }

    /// `embed --max-faces`: every face of the group photo, largest first, each with the box
    /// `detect` gives and its own embedding; `verify` names the faces it compared and warns
    /// about the photo holding four (tiny model, built-in MTCNN).
    func testEveryFaceInEmbedAndVerify() throws {
        let model = try tinyFaceModelFlags().dropLast(2) + ["--detector", "mtcnn"]  // the flags end in --detector skip
        let photo = CLIPaths.fixture("mtcnn_stages/group.jpg"), single = CLIPaths.package("Docs/samples/img5.jpg")
        let detected = try jsonLines(try facenet(["detect", "--json", photo], timeout: 90)).first?["faces"] as? [[String: Any]]
        let boxes = try XCTUnwrap(detected).map { $0["box"] as? [Int] }
        XCTAssertEqual(boxes.count, 4)
        let embedded = try facenet(["embed", "--json", "--max-faces", "3", photo] + model, timeout: 90)
        assertSucceeded(embedded)
        let lines = try jsonLines(embedded)
        XCTAssertEqual(lines.count, 1, "one object per photo")
        let faces = try XCTUnwrap(lines.first?["faces"] as? [[String: Any]])
        XCTAssertEqual(faces.map { $0["box"] as? [Int] }, Array(boxes.prefix(3)))
        let embeddings = try faces.map { try XCTUnwrap(floats($0["embedding"])) }
        XCTAssertEqual(Set(embeddings.map { $0.map(\.bitPattern) }).count, 3, "three different embeddings")
        let text = try facenet(["embed", "--max-faces", "2", photo, single] + model, timeout: 90)
        assertSucceeded(text)
        XCTAssertEqual(text.stdoutLines.map { $0.split(separator: "\t").prefix(2).joined(separator: "\t") },
                       ["\(photo)\tface 0 \(boxes[0] ?? [])", "\(photo)\tface 1 \(boxes[1] ?? [])",
                        "\(single)\tface 0 [89, 102, 185, 253]"])

        let verified = try facenet(["verify", "--json", "--threshold", "1", photo, single] + model, timeout: 90)
        assertSucceeded(verified)
        let result = try XCTUnwrap(jsonLines(verified).first)
        let used = try XCTUnwrap(result["faces"] as? [[String: Any]])
        XCTAssertEqual(used.map { $0["faces_found"] as? Int }, [4, 1])
        XCTAssertEqual(used.first?["box"] as? [Int], boxes[0])
        XCTAssertEqual((result["warnings"] as? [String])?.count, 1, verified.transcript)
        XCTAssertTrue(verified.stderr.contains("group.jpg: 4 faces found; compared face 0"), verified.transcript)
        for key in ["distance", "threshold", "verified"] { XCTAssertNotNil(result[key], key) }

        assertUsageError(try facenet(["embed", "--max-faces", "0", photo] + model), mentions: ["--max-faces"])
        assertUsageError(try facenet(["embed", "--max-faces", "2", "--face", "1", photo] + model), mentions: ["--max-faces", "--face"])
        assertUsageError(try facenet(["embed", "--fallback-whole-image", photo] + model.dropLast(2) + ["--detector", "skip"]),
                         mentions: ["--fallback-whole-image"])
    }

    /// `detect` over several photos reports progress on stderr per photo (stdout unchanged).
    func testDetectProgressPerPhoto() throws {
        let photos = [CLIPaths.package("Docs/samples/img5.jpg"), CLIPaths.package("Docs/samples/img6.jpg")]
        let result = try facenet(["detect", "--json", "--progress-interval", "0"] + photos, timeout: 90)
        assertSucceeded(result)
        XCTAssertEqual(result.stdoutLines.count, 2, result.transcript)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, result.transcript)
        XCTAssertTrue(lines.first?.hasPrefix("detected 1/2 (50%), ") ?? false, result.transcript)
        XCTAssertTrue(lines.last?.hasPrefix("detected 2/2 (100%), ") ?? false, result.transcript)
        let quiet = try facenet(["detect", "--json", "-q"] + photos, timeout: 90)
        XCTAssertEqual(quiet.stderr, "", quiet.transcript)
        XCTAssertEqual(quiet.stdout, result.stdout)
    }

    /// The four faces of a group photo, each within a pixel of the package's box, largest
    /// first, with five landmarks inside the box; `--draw` writes a JPEG of the photo.
    func testDetectFindsTheFacesThePythonPackageFinds() throws {
        let photo = CLIPaths.fixture("mtcnn_stages/group.jpg")
        let expected = try packageFaces("group.jpg")
        XCTAssertEqual(expected.faces.count, 4)
        let drawn = scratchPath("drawn")
        let result = try facenet(["detect", "--json", "--draw", drawn, photo], timeout: 90)
        assertSucceeded(result)
        let line = try XCTUnwrap(try jsonLines(result).first)
        XCTAssertEqual(line["file"] as? String, photo)
        let faces = try XCTUnwrap(line["faces"] as? [[String: Any]])
        XCTAssertEqual(faces.count, expected.faces.count, result.stdout)
        var areas: [Double] = []
        for face in faces {
            let box = try XCTUnwrap(floats(face["box"]).map { $0.map(Double.init) }, "\(face)")
            XCTAssertEqual(box.count, 4)
            guard box.count == 4 else { continue }
            areas.append(box[2] * box[3])
            // The package's face nearest this box; boxes are clipped to the image.
            let match = try XCTUnwrap(expected.faces.min { abs($0[0] - box[0]) + abs($0[1] - box[1]) < abs($1[0] - box[0]) + abs($1[1] - box[1]) })
            let x1 = max(0, match[0]), y1 = max(0, match[1])
            let x2 = min(Double(expected.width - 1), match[2]), y2 = min(Double(expected.height - 1), match[3])
            for (got, want) in zip(box, [x1, y1, x2 - x1, y2 - y1]) {
                XCTAssertEqual(got, want, accuracy: 1.01, "box \(box) vs the package's \(match.prefix(4))")
            }
            XCTAssertEqual(try XCTUnwrap(number(face["confidence"])), match[4], accuracy: 1e-3)
            let landmarks = try XCTUnwrap(face["landmarks"] as? [String: Any])
            XCTAssertEqual(Set(landmarks.keys), ["left_eye", "right_eye", "nose", "mouth_left", "mouth_right"])
            for (name, value) in landmarks {
                let p = try XCTUnwrap(floats(value), name).map(Double.init)
                XCTAssertTrue(p.count == 2 && p[0] >= box[0] && p[0] <= box[0] + box[2] && p[1] >= box[1] && p[1] <= box[1] + box[3],
                              "\(name) \(p) outside \(box)")
            }
        }
        XCTAssertEqual(areas, areas.sorted(by: >), "largest face first")
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: drawn + "/group.jpg"))
        XCTAssertEqual(Array(jpeg.prefix(2)), [0xFF, 0xD8], "--draw did not write a JPEG")
    }

    /// Issue 16: a folder argument picks up `.webp` files (and a WebP named `.jpg`), which
    /// decode: the face is found in each, at the box of the PNG with the same pixels.
    func testDetectReadsWebPFilesInAFolder() throws {
        let folder = try scratchDirectory("gallery")
        for (fixture, name) in [("face.webp", "a.webp"), ("face.png", "b.png"), ("webp_named.jpg", "c.jpg"),
                                ("face.webp", "d.WEBP")] {
            try FileManager.default.copyItem(atPath: CLIPaths.fixture("images/" + fixture),
                                             toPath: folder.appendingPathComponent(name).path)
        }
        try Data("not an image".utf8).write(to: folder.appendingPathComponent("notes.txt"))
        let result = try facenet(["detect", "--json", folder.path], timeout: 90)
        assertSucceeded(result)
        let lines = try jsonLines(result)
        XCTAssertEqual(lines.map { ((($0["file"] as? String) ?? "") as NSString).lastPathComponent },
                       ["a.webp", "b.png", "c.jpg", "d.WEBP"], result.transcript)
        let boxes = lines.map { ($0["faces"] as? [[String: Any]])?.map { floats($0["box"]) ?? [] } }
        guard boxes.count == 4 else { return }
        XCTAssertEqual(boxes[0]?.count, 1, result.stdout)
        XCTAssertEqual(boxes[0], boxes[1], "face.webp and face.png: the same face box")
        XCTAssertEqual(boxes[0], boxes[3])
        XCTAssertNotNil(boxes[2], "the 37×23 WebP named .jpg was decoded (no face in it): \(result.transcript)")
    }

    /// Width and height of a PNG (its IHDR) or a baseline/progressive JPEG (its SOF marker).
    private func imageSize(_ path: String) throws -> (width: Int, height: Int) {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        func be16(_ i: Int) -> Int { Int(bytes[i]) << 8 | Int(bytes[i + 1]) }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
            XCTAssertEqual(Array(bytes[12..<16]), Array("IHDR".utf8), path)
            return (be16(16) << 16 | be16(18), be16(20) << 16 | be16(22))
        }
        XCTAssertEqual(Array(bytes.prefix(2)), [0xFF, 0xD8], "\(path) is neither PNG nor JPEG")
        var i = 2
        while i + 9 < bytes.count, bytes[i] == 0xFF {
            if bytes[i + 1] == 0xC0 || bytes[i + 1] == 0xC2 { return (be16(i + 7), be16(i + 5)) }
            i += 2 + be16(i + 2)
        }
        XCTFail("no SOF marker found in \(path)")
        return (0, 0)
    }

    /// `--draw` and `--crops` in PNG: the photo at its size, and one 160×160 crop per face
    /// the JSON reports, named from 0; in the default JPEG with `--crop-size 96`, the same
    /// files as .jpg at 96×96.
    func testDetectWritesDrawingAndCropsAsPNGOrJPEG() throws {
        let photo = CLIPaths.fixture("mtcnn_stages/group.jpg")
        let expected = try packageFaces("group.jpg")
        let drawn = scratchPath("drawn"), crops = scratchPath("crops")
        let result = try facenet(["detect", "--json", "--draw", drawn, "--crops", crops, "--format", "png", photo], timeout: 90)
        assertSucceeded(result)
        let faces = try XCTUnwrap(try jsonLines(result).first?["faces"] as? [[String: Any]])
        XCTAssertEqual(faces.count, expected.faces.count, result.stdout)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: drawn), ["group.png"])
        let size = try imageSize(drawn + "/group.png")
        XCTAssertEqual([size.width, size.height], [expected.width, expected.height])
        let names = (0..<faces.count).map { "group_face\($0).png" }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: crops).sorted(), names)
        for name in names {
            let crop = try imageSize(crops + "/" + name)
            XCTAssertEqual([crop.width, crop.height], [160, 160], name)
        }
        let jpegCrops = scratchPath("jpeg-crops")
        let jpeg = try facenet(["detect", "--crops", jpegCrops, "--crop-size", "96", "--align", "eyes", photo], timeout: 90)
        assertSucceeded(jpeg)
        let jpegNames = (0..<faces.count).map { "group_face\($0).jpg" }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: jpegCrops).sorted(), jpegNames)
        for name in jpegNames {
            let crop = try imageSize(jpegCrops + "/" + name)
            XCTAssertEqual([crop.width, crop.height], [96, 96], name)
        }
    }

    /// A format other than jpg or png, and a crop size out of range, are usage errors; an
    /// output directory that cannot be made (a file is in the way) fails with 1, named.
    func testDetectBadFormatCropSizeAndOutputDirectory() throws {
        let photo = CLIPaths.package("Docs/samples/img5.jpg")
        assertUsageError(try facenet(["detect", "--crops", scratchPath("c"), "--format", "gif", photo]),
                         mentions: ["'gif'", "--format", "jpg", "png"])
        assertUsageError(try facenet(["detect", "--crops", scratchPath("c"), "--crop-size", "0", photo]),
                         mentions: ["--crop-size must be in 1...4096"])
        let blocker = scratchPath("a-file")
        XCTAssertTrue(FileManager.default.createFile(atPath: blocker, contents: Data("x".utf8)))
        assertFailed(try facenet(["detect", "--crops", blocker + "/crops", photo]), status: ExitStatus.failure,
                     mentions: [blocker + "/crops", "cannot write", "cannot make the output directory"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratchPath("c")))
    }

    /// Each bad file is named on stderr and as a JSON error line; the run ends with 1.
    func testDetectMissingFileNotAnImageAndTooSmall() throws {
        let missing = scratchPath("gone.jpg"), text = CLIPaths.fixture("images/text.jpg")
        let tiny = CLIPaths.fixture("images/jpeg_1x1.jpg")
        let result = try facenet(["detect", "--json", missing, text, tiny], timeout: 60)
        assertFailed(result, status: ExitStatus.failure,
                     mentions: [missing, "no such file", text, "not an image", tiny, "smaller than MTCNN's 12×12", "3 of 3 images failed"])
        let lines = try jsonLines(result)
        XCTAssertEqual(lines.map { $0["file"] as? String }, [missing, text, tiny])
        XCTAssertEqual(lines.map { ($0["error"] as? [String: Any])?["code"] as? String }, ["unreadable_file", "invalid_image", "invalid_image"],
                       "\(lines)")
    }

    func testDetectBadFlagValues() throws {
        let photo = CLIPaths.package("Docs/samples/img5.jpg")
        assertUsageError(try facenet(["detect", "--thresholds", "0.6,0.7", photo]),
                         mentions: ["--thresholds needs three numbers", "e.g. 0.6,0.7,0.8"])
        assertUsageError(try facenet(["detect", "--scale-factor", "2", photo]), mentions: ["--scale-factor must be in (0.1, 1)"])
        assertUsageError(try facenet(["detect", "--min-face-size", "0", photo]), mentions: ["--min-face-size must be at least 1"])
        assertUsageError(try facenet(["detect", "--verify-weights", "maybe", photo]),
                         mentions: ["'maybe'", "--verify-weights", "require"])
    }

    /// `--mtcnn` naming a directory without the nets: exit 1, the missing file named.
    func testDetectMissingMTCNNDirectory() throws {
        let directory = scratchPath("no-mtcnn")
        let result = try facenet(["detect", "--mtcnn", directory, CLIPaths.package("Docs/samples/img5.jpg")])
        assertFailed(result, status: ExitStatus.failure, mentions: [directory + "/pnet.json"])
    }

    // MARK: bench-detect

    /// One timed run on a small photo: its size, the face count the package finds, positive
    /// stage times, the wall-clock ones adding up to the detection time. `--model facenet128` has no weights here, so the end-to-end
    /// time is skipped (and said so).
    func testBenchDetectReportsThePhotoAndItsFaces() throws {
        try skipIfPackageWeightsExist("facenet_weights.h5")
        let photo = CLIPaths.fixture("mtcnn_stages/img12_small.jpg")
        let expected = try packageFaces("img12_small.jpg")
        let result = try facenet(["bench-detect", "--iterations", "1", "--json", "--model", "facenet128", photo], timeout: 60)
        assertSucceeded(result)
        XCTAssertTrue(result.stderr.contains("no facenet128 weights: end-to-end time skipped"), result.transcript)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data((result.stdoutLines.last ?? "").utf8)) as? [String: Any],
                                   result.stdout)
        XCTAssertEqual(object["file"] as? String, photo)
        XCTAssertEqual(number(object["width"]), Double(expected.width))
        XCTAssertEqual(number(object["height"]), Double(expected.height))
        XCTAssertEqual(number(object["faces"]), Double(expected.faces.count))
        for key in ["detect_ms", "pyramid_pnet_ms", "rnet_ms", "onet_ms", "pyramid_cpu_ms", "pnet_cpu_ms"] {
            XCTAssertGreaterThan(number(object[key]) ?? 0, 0, "\(key) in \(object)")
        }
        // The wall-clock stages add up to the detection time (other: what follows O-Net).
        let stages = ["pyramid_pnet_ms", "rnet_ms", "onet_ms", "other_ms"].compactMap { number(object[$0]) }
        XCTAssertEqual(stages.count, 4, "\(object)")
        XCTAssertEqual(stages.reduce(0, +), try XCTUnwrap(number(object["detect_ms"])), accuracy: 1e-6, "\(object)")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(number(object["other_ms"])), 0, "\(object)")
        XCTAssertTrue(result.stderr.contains("(wall clock); CPU summed over threads: pyramid "), result.stderr)
        XCTAssertNil(object["photo_to_embedding_ms"])
    }

    func testBenchDetectBadInput() throws {
        let missing = scratchPath("gone.jpg"), text = CLIPaths.fixture("images/text.jpg")
        let flags = ["--iterations", "1", "--model", "facenet128"]
        assertFailed(try facenet(["bench-detect"] + flags + [missing]), status: ExitStatus.failure, mentions: [missing, "no such file"])
        assertFailed(try facenet(["bench-detect"] + flags + [text]), status: ExitStatus.failure, mentions: [text, "not an image"])
        assertUsageError(try facenet(["bench-detect", "--iterations", "0", text]), mentions: ["--iterations must be at least 1"])
        assertUsageError(try facenet(["bench-detect", "--model", "arcface", text]), mentions: ["'arcface'", "--model", "facenet512-casia"])
        // A photo under 12×12 fails with 1, but the message does not name it; see the report.
        let small = try facenet(["bench-detect"] + flags + [CLIPaths.fixture("images/jpeg_1x1.jpg")])
        assertFailed(small, status: ExitStatus.failure, mentions: ["smaller than MTCNN's 12×12"])
    }
}
