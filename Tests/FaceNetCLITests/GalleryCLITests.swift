import Foundation
import XCTest

/// `facenet gallery …` and `facenet find` on the embedded store, run as a user runs them.
final class GalleryCLITests: CLITestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        if !galleryBuilt { throw XCTSkip("facenet is built without the gallery here (FACENET_ENGINE_ONLY=1, the sanitizer runs)") }
    }

    /// JSON lines of `identities` × `samples` synthetic 512-d embeddings (clusters around
    /// random centres), and the embeddings themselves.
    private func syntheticLines(identities: Int, samples: Int, seed: UInt64, dimension: Int = 512,
                                prefix: String = "person") -> (text: String, faces: [(identity: String, embedding: [Float])]) {
        var state = seed
        func uniform() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24) * 2 - 1
        }
        var faces: [(String, [Float])] = []
        for person in 0..<identities {
            let centre = (0..<dimension).map { _ in uniform() }
            for _ in 0..<samples { faces.append(("\(prefix)\(person)", centre.map { $0 + 0.15 * uniform() })) }
        }
        let text = faces.enumerated().map { n, face in
            "{\"identity\": \"\(face.0)\", \"file\": \"\(face.0)/\(n).jpg\", \"embedding\": [\(face.1.map { "\($0)" }.joined(separator: ", "))]}\n"
        }.joined()
        return (text, faces)
    }

    private func write(_ text: String, to name: String) throws -> String {
        let path = scratchPath(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    private static func cosineDistance(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, aa = 0.0, bb = 0.0
        for (x, y) in zip(a, b) { dot += Double(x) * Double(y); aa += Double(x) * Double(x); bb += Double(y) * Double(y) }
        return 1 - dot / (aa.squareRoot() * bb.squareRoot())
    }

    /// `create`, `import` and `find --embeddings` work with no weights installed (they never
    /// load the network); `find` returns what brute force finds; `stats`, `list`, `export`,
    /// `remove` say what is stored.
    func testImportAndFindEmbeddingsWithoutTheNetwork() throws {
        let noWeights: [String: String?] = ["FACENET_WEIGHTS_DIR": scratchPath("no-weights")]
        let gallery = scratchPath("g.sqlite")
        let created = try facenet(["gallery", "create", gallery, "--json"], environment: noWeights)
        assertSucceeded(created)
        XCTAssertEqual(try jsonLines(created).first?["dimension"] as? Int, 512)
        let (text, faces) = syntheticLines(identities: 40, samples: 5, seed: 1)
        let imported = try facenet(["gallery", "import", gallery, try write(text, to: "faces.jsonl"), "--json"], environment: noWeights)
        assertSucceeded(imported)
        XCTAssertEqual(try jsonLines(imported).first?["imported"] as? Int, 200)

        let (queryText, queries) = syntheticLines(identities: 3, samples: 1, seed: 1, prefix: "query")
        let found = try facenet(["find", "--embeddings", try write(queryText, to: "queries.jsonl"), "--gallery", gallery,
                                 "-k", "4", "--metric", "cosine", "--json"], environment: noWeights)
        assertSucceeded(found)
        let lines = try jsonLines(found)
        XCTAssertEqual(lines.count, queries.count, "one line per query line")
        for (line, query) in zip(lines, queries) {
            XCTAssertEqual(line["index"] as? String, "exact")
            let matches = try XCTUnwrap(line["matches"] as? [[String: Any]])
            let expected = faces.enumerated().map { ($0.offset, Self.cosineDistance(query.embedding, $0.element.embedding)) }
                .sorted { $0.1 < $1.1 }.prefix(4)
            XCTAssertEqual(matches.compactMap { $0["file"] as? String }, expected.map { "\(faces[$0.0].identity)/\($0.0).jpg" })
            for (match, want) in zip(matches, expected) {
                XCTAssertEqual(number(match["distance"]) ?? -1, want.1, accuracy: 1e-5)
                XCTAssertEqual(match["verified"] as? Bool, (number(match["distance"]) ?? 9) <= (number(match["threshold"]) ?? -1))
            }
        }

        let stats = try XCTUnwrap(try jsonLines(try facenet(["gallery", "stats", gallery, "--json"])).first)
        XCTAssertEqual(stats["faces"] as? Int, 200)
        XCTAssertEqual(stats["identities"] as? Int, 40)
        XCTAssertEqual(stats["index"] as? String, "exact")
        let list = try jsonLines(try facenet(["gallery", "list", gallery, "--json"]))
        XCTAssertEqual(list.count, 40)
        XCTAssertTrue(list.allSatisfy { $0["faces"] as? Int == 5 })

        let removed = try facenet(["gallery", "remove", gallery, "--identity", "person7", "--json"])
        XCTAssertEqual(try jsonLines(removed).first?["removed"] as? Int, 5)
        let exported = scratchPath("out.jsonl")
        assertSucceeded(try facenet(["gallery", "export", gallery, exported]))
        let back = try String(contentsOfFile: exported, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(back.count, 195)
        XCTAssertFalse(back.contains { $0.contains("\"person7\"") })
        // What export writes, import reads back: a second gallery with the same faces.
        let copy = scratchPath("copy.sqlite")
        assertSucceeded(try facenet(["gallery", "create", copy]))
        assertSucceeded(try facenet(["gallery", "import", copy, exported]))
        let copied = try XCTUnwrap(try jsonLines(try facenet(["gallery", "stats", copy, "--json"])).first)
        XCTAssertEqual(copied["faces"] as? Int, 195)
    }

    /// A bad line anywhere (wrong dimension, NaN, not JSON, no identity) stores nothing and
    /// names the line.
    func testImportRefusesABadLineAndStoresNothing() throws {
        let gallery = scratchPath("g.sqlite")
        assertSucceeded(try facenet(["gallery", "create", gallery]))
        let good = syntheticLines(identities: 2, samples: 2, seed: 3).text
        let bad: [(String, String)] = [
            ("{\"identity\": \"x\", \"embedding\": [1, 2, 3]}", "3 values; the gallery holds 512-d"),
            ("{\"identity\": \"x\", \"embedding\": [" + Array(repeating: "NaN", count: 512).joined(separator: ",") + "]}", "a non-number"),
            ("not json at all", "not a JSON object"),
            ("{\"identity\": \"x\", \"embedding\": [true" + String(repeating: ", 0.5", count: 511) + "]}", "a non-number"),
            ("{\"embedding\": [" + Array(repeating: "0.5", count: 512).joined(separator: ",") + "]}", "no \"identity\""),
        ]
        for (line, mention) in bad {
            let file = try write(good + line + "\n" + good, to: "bad.jsonl")
            let result = try facenet(["gallery", "import", gallery, file, "--json"])
            assertFailed(result, status: ExitStatus.failure, mentions: ["bad.jsonl:5:", mention])
            XCTAssertEqual(((try jsonLines(result).last?["error"]) as? [String: Any])?["code"] as? String, "invalid_argument")
        }
        let stats = try XCTUnwrap(try jsonLines(try facenet(["gallery", "stats", gallery, "--json"])).first)
        XCTAssertEqual(stats["faces"] as? Int, 0, "a refused file stores nothing")
    }

    /// Photos by folder (identity = folder name) with the tiny model on crops; a bad file is
    /// reported and skipped (exit 0); `find` names the right person; the gallery refuses
    /// another model before loading it.
    func testAddPhotosByFolderAndFindThem() throws {
        let model = try tinyFaceModelFlags()
        let people = try scratchDirectory("people")
        let photos = ["alice/1.jpg": "Docs/samples/img5.jpg", "alice/2.png": "Tests/Fixtures/pipeline/img16_face.png",
                      "bob/1.jpg": "Docs/samples/img6.jpg", "bob/sub/2.jpg": "Docs/samples/img16.jpg"]
        for (name, source) in photos {
            let target = people.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: CLIPaths.package(source), toPath: target.path)
        }
        try Data("not an image".utf8).write(to: people.appendingPathComponent("bob/broken.jpg"))
        let gallery = scratchPath("g.sqlite")
        let created = try facenet(["gallery", "create", gallery, "--json"] + model)
        assertSucceeded(created)
        XCTAssertEqual(try jsonLines(created).first?["dimension"] as? Int, 16)
        let added = try facenet(["gallery", "add", gallery, people.path, "--json", "-q"] + model)
        XCTAssertEqual(added.status, ExitStatus.success, added.transcript)
        let lines = try jsonLines(added)
        XCTAssertEqual(lines.count, 5)
        XCTAssertEqual(lines.filter { $0["error"] != nil }.map { $0["file"] as? String }, [people.appendingPathComponent("bob/broken.jpg").path])
        let identities = lines.compactMap { $0["identity"] as? String }
        XCTAssertEqual(identities.sorted(), ["alice", "alice", "bob", "sub"], "the photo's folder names it")
        XCTAssertTrue(added.stderr.contains("added 4 of 5 photos"), added.transcript)

        let found = try facenet(["find", CLIPaths.package("Docs/samples/img6.jpg"), "--gallery", gallery, "-k", "2", "--json"] + model)
        assertSucceeded(found)
        let result = try XCTUnwrap(try jsonLines(found).first)
        let face = try XCTUnwrap((result["faces"] as? [[String: Any]])?.first)
        let best = try XCTUnwrap((face["matches"] as? [[String: Any]])?.first)
        XCTAssertEqual(best["identity"] as? String, "bob")
        XCTAssertEqual(number(best["distance"]) ?? 1, 0, accuracy: 1e-3, "the same photo is at distance 0 (to float rounding: √(2 − 2s) makes one ulp of s 3.5e-4)")

        let other = try facenet(["gallery", "add", gallery, people.path, "--model", "facenet128"])
        assertFailed(other, status: ExitStatus.failure, mentions: ["holds embeddings of weights weights_tfkeras.h5 (16-d", "facenet128 (128-d"])
        XCTAssertFalse(other.stderr.contains("facenet_weights.h5"), "refused before looking for the weights:\n\(other.transcript)")
    }

    /// `find IMAGE DBDIR`: the first call builds the folder's gallery, later calls embed only
    /// what changed (bytes, not times), drop deleted photos and say so on stderr; stdout is
    /// one JSON line per query; another model is refused naming both and the file to delete.
    func testFindInAFolderKeepsItsGalleryUpToDate() throws {
        let model = try tinyFaceModelFlags()
        let db = try scratchDirectory("db")
        let sources = ["alice/1.jpg": "Docs/samples/img5.jpg", "bob/1.jpg": "Docs/samples/img6.jpg",
                       "carol.png": "Tests/Fixtures/pipeline/img16_face.png"]
        for (name, source) in sources {
            let target = db.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: CLIPaths.package(source), toPath: target.path)
        }
        /// `find QUERY db -k 1 --json`: the best match, after checking the refresh report.
        func best(_ query: String, report: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
            let found = try facenet(["find", CLIPaths.package(query), db.path, "-k", "1", "--json"] + model)
            assertSucceeded(found, file: file, line: line)
            XCTAssertTrue(found.stderr.contains("\(db.path): " + report), "not '\(report)':\n\(found.transcript)", file: file, line: line)
            XCTAssertEqual(found.stdoutLines.count, 1, "one line per query photo:\n\(found.transcript)", file: file, line: line)
            let face = try XCTUnwrap((try jsonLines(found).first?["faces"] as? [[String: Any]])?.first, file: file, line: line)
            return try XCTUnwrap((face["matches"] as? [[String: Any]])?.first, file: file, line: line)
        }

        let first = try best("Docs/samples/img6.jpg", report: "added 3, re-embedded 0, removed 0, unchanged 0")
        XCTAssertEqual(first["identity"] as? String, "bob")
        XCTAssertEqual(first["file"] as? String, db.appendingPathComponent("bob/1.jpg").path)
        XCTAssertEqual(number(first["distance"]) ?? 1, 0, accuracy: 1e-3)  // √(2 − 2s): one ulp of s below 1 is 3.5e-4
        XCTAssertTrue(FileManager.default.fileExists(atPath: db.appendingPathComponent(".facenet-gallery.sqlite").path))
        let again = try best("Docs/samples/img6.jpg", report: "added 0, re-embedded 0, removed 0, unchanged 3")
        XCTAssertEqual(again["face_id"] as? Int, first["face_id"] as? Int, "an unchanged photo keeps its row")

        // Other bytes under bob/1.jpg, its modification time put back: the hash tells.
        let bob = db.appendingPathComponent("bob/1.jpg").path
        let time = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: bob)[.modificationDate] as? Date)
        try FileManager.default.removeItem(atPath: bob)
        try FileManager.default.copyItem(atPath: CLIPaths.package("Docs/samples/img16.jpg"), toPath: bob)
        try FileManager.default.setAttributes([.modificationDate: time], ofItemAtPath: bob)
        let changed = try best("Docs/samples/img16.jpg", report: "added 0, re-embedded 1, removed 0, unchanged 2")
        XCTAssertEqual(changed["identity"] as? String, "bob")
        XCTAssertEqual(number(changed["distance"]) ?? 1, 0, accuracy: 1e-3)  // as above
        XCTAssertNotEqual(changed["face_id"] as? Int, first["face_id"] as? Int)

        // carol deleted, a new photo and a bad file added: only the new ones are tried.
        try FileManager.default.removeItem(at: db.appendingPathComponent("carol.png"))
        try FileManager.default.copyItem(atPath: CLIPaths.package("Docs/samples/img6.jpg"), toPath: db.appendingPathComponent("dave.jpg").path)
        try Data("not an image".utf8).write(to: db.appendingPathComponent("alice/broken.jpg"))
        let dave = try best("Tests/Fixtures/pipeline/img16_face.png", report: "added 1, re-embedded 0, removed 1, unchanged 2; 1 failed")
        XCTAssertNotEqual(dave["identity"] as? String, "carol", "carol's face is gone")
        let listed = try jsonLines(try facenet(["gallery", "list", db.appendingPathComponent(".facenet-gallery.sqlite").path, "--json"]))
        XCTAssertEqual(listed.compactMap { $0["identity"] as? String }.sorted(), ["alice", "bob", "dave"])
        let rerun = try facenet(["find", CLIPaths.package("Docs/samples/img5.jpg"), db.path, "--json"] + model)
        XCTAssertTrue(rerun.stderr.contains(db.appendingPathComponent("alice/broken.jpg").path), rerun.transcript)
        XCTAssertEqual(rerun.status, ExitStatus.success, "a bad photo in the folder is skipped:\n\(rerun.transcript)")

        let other = try facenet(["find", CLIPaths.package("Docs/samples/img5.jpg"), db.path, "--model", "facenet128"])
        assertFailed(other, status: ExitStatus.failure, mentions: ["weights weights_tfkeras.h5 (16-d", "facenet128 (128-d",
                                                                  "delete " + db.appendingPathComponent(".facenet-gallery.sqlite").path])
        assertUsageError(try facenet(["find", db.path] + model), mentions: ["query photos before the folder"])
        assertUsageError(try facenet(["find", CLIPaths.package("Docs/samples/img5.jpg")] + model), mentions: ["--gallery"])
    }

    /// Two processes importing into one gallery at once: both finish, nothing is lost.
    func testTwoProcessesImportAtOnce() throws {
        let gallery = scratchPath("g.sqlite")
        assertSucceeded(try facenet(["gallery", "create", gallery]))
        let first = try write(syntheticLines(identities: 50, samples: 10, seed: 4, prefix: "a").text, to: "a.jsonl")
        let second = try write(syntheticLines(identities: 50, samples: 10, seed: 5, prefix: "b").text, to: "b.jsonl")
        let processes = try [first, second].map { file in
            try launch(["gallery", "import", gallery, file])
        }
        for process in processes {
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0)
        }
        let stats = try XCTUnwrap(try jsonLines(try facenet(["gallery", "stats", gallery, "--json"])).first)
        XCTAssertEqual(stats["faces"] as? Int, 1_000)
        XCTAssertEqual(stats["identities"] as? Int, 100)
    }

    /// `gallery add` killed with SIGKILL midway: every photo it reported is stored, and the
    /// file opens and takes more.
    func testKilledAddKeepsWhatItCommitted() throws {
        let model = try tinyFaceModelFlags()
        let folder = try scratchDirectory("many/carol")
        for n in 0..<200 {
            try FileManager.default.copyItem(atPath: CLIPaths.package("Docs/samples/img5.jpg"),
                                             toPath: folder.appendingPathComponent("\(n).jpg").path)
        }
        let gallery = scratchPath("g.sqlite")
        assertSucceeded(try facenet(["gallery", "create", gallery] + model))
        let output = scratchPath("add.out")
        let process = try launch(["gallery", "add", gallery, scratchPath("many"), "--json", "-q"] + model, stdout: output)
        let deadline = Date().addingTimeInterval(60)
        var reported = 0
        while Date() < deadline {
            reported = (try? String(contentsOfFile: output, encoding: .utf8))?.split(separator: "\n").count ?? 0
            if reported >= 5 || !process.isRunning { break }
            usleep(20_000)
        }
        XCTAssertTrue(process.isRunning, "add finished before it could be killed (\(reported) lines)")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)
        let committed = (try String(contentsOfFile: output, encoding: .utf8)).split(separator: "\n").count
        let stats = try XCTUnwrap(try jsonLines(try facenet(["gallery", "stats", gallery, "--json"])).first)
        let stored = try XCTUnwrap(stats["faces"] as? Int)
        XCTAssertGreaterThanOrEqual(stored, committed, "a reported photo was lost")
        XCTAssertLessThan(stored, 200)
        assertSucceeded(try facenet(["gallery", "add", gallery, CLIPaths.package("Docs/samples/img6.jpg"), "--identity", "dave"] + model))
        let after = try XCTUnwrap(try jsonLines(try facenet(["gallery", "stats", gallery, "--json"])).first)
        XCTAssertEqual(after["faces"] as? Int, stored + 1)
    }

    /// The same commands on a PostgreSQL gallery (`FACENET_TEST_POSTGRES_URL`, which
    /// Scripts/test.sh starts): create, import, find by HNSW and exactly, stats, remove,
    /// export. Skips without a server, fails under CI=true.
    func testTheSameCommandsOnPostgreSQL() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let server = environment["FACENET_TEST_POSTGRES_URL"], !server.isEmpty else {
            let hint = "FACENET_TEST_POSTGRES_URL is not set: run `eval \"$(bash Scripts/postgres.sh start)\"` first"
            if environment["CI"] == "true" { return XCTFail(hint + " (CI=true: this test must run)") }
            throw XCTSkip(hint)
        }
        let name = "cli_\(UInt32.random(in: .min ... .max))"
        let gallery = server + (server.contains("?") ? "&" : "?") + "gallery=\(name)"
        assertSucceeded(try facenet(["gallery", "create", gallery]))
        let (text, faces) = syntheticLines(identities: 30, samples: 4, seed: 6)
        assertSucceeded(try facenet(["gallery", "import", gallery, try write(text, to: "faces.jsonl")], timeout: 60))
        let (queryText, queries) = syntheticLines(identities: 2, samples: 1, seed: 6, prefix: "q")
        let queryFile = try write(queryText, to: "q.jsonl")
        for mode in ["--exact", "--ann"] {
            let found = try facenet(["find", "--embeddings", queryFile, "--gallery", gallery, "-k", "3", "--metric", "cosine", mode, "--json"])
            assertSucceeded(found)
            for (line, query) in zip(try jsonLines(found), queries) {
                XCTAssertEqual(line["index"] as? String, mode == "--exact" ? "exact" : "hnsw", mode)
                let best = faces.enumerated().min { Self.cosineDistance(query.embedding, $0.element.embedding)
                    < Self.cosineDistance(query.embedding, $1.element.embedding) }
                let first = (line["matches"] as? [[String: Any]])?.first
                XCTAssertEqual(first?["identity"] as? String, best?.element.identity, mode)
            }
        }
        let stats = try XCTUnwrap(try jsonLines(try facenet(["gallery", "stats", gallery, "--json"])).first)
        XCTAssertEqual(stats["faces"] as? Int, 120)
        XCTAssertFalse((stats["gallery"] as? String ?? "").contains(":@"), "no password shown")
        XCTAssertEqual(try jsonLines(try facenet(["gallery", "remove", gallery, "--identity", "person1", "--json"])).first?["removed"] as? Int, 4)
        let exported = scratchPath("out.jsonl")
        assertSucceeded(try facenet(["gallery", "export", gallery, exported]))
        XCTAssertEqual(try String(contentsOfFile: exported, encoding: .utf8).split(separator: "\n").count, 116)
        assertFailed(try facenet(["gallery", "create", gallery]), status: ExitStatus.failure, mentions: ["exists"])
    }

    /// `bench-search` on small raw float32 files: one JSON object with the figures (exact
    /// answers agree, recall is a fraction); a file that is not whole rows, or missing, is
    /// an error naming it.
    func testBenchSearchReportsAndRefusesBadFiles() throws {
        func floats(_ count: Int, seed: UInt64) -> Data {
            var state = seed, data = Data()
            for _ in 0..<count {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let value = Float(state >> 40) / Float(1 << 24) * 2 - 1
                withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
            }
            return data
        }
        let vectors = scratchPath("v.f32"), queries = scratchPath("q.f32")
        try floats(300 * 8, seed: 1).write(to: URL(fileURLWithPath: vectors))
        try floats(5 * 8, seed: 2).write(to: URL(fileURLWithPath: queries))
        let flags = ["--dimension", "8", "-k", "3", "--ef", "8,32", "--json"]
        let result = try facenet(["bench-search", "--vectors", vectors, "--queries", queries] + flags)
        assertSucceeded(result)
        let report = try XCTUnwrap(try jsonLines(result).first)
        XCTAssertEqual(result.stdoutLines.count, 1)
        XCTAssertEqual(number(report["vectors"]), 300)
        XCTAssertGreaterThan(number(report["exact_batched_qps"]) ?? 0, 0)
        let recall = try XCTUnwrap(number(report["hnsw_ef32_recall"]))
        XCTAssertTrue((0...1).contains(recall) && recall >= 0.9, "recall \(recall) on 300 vectors at ef 32")
        XCTAssertTrue(result.stderr.contains("(5/5 identical to one at a time)"), result.transcript)

        let ragged = scratchPath("ragged.f32")
        try floats(13, seed: 3).write(to: URL(fileURLWithPath: ragged))
        assertFailed(try facenet(["bench-search", "--vectors", ragged, "--queries", queries] + flags), status: ExitStatus.failure,
                     mentions: [ragged, "is not a whole number of 8-d float32 rows"])
        let missing = scratchPath("none.f32")
        assertFailed(try facenet(["bench-search", "--vectors", vectors, "--queries", missing] + flags), status: ExitStatus.failure,
                     mentions: [missing, "no such file"])
    }

    /// Starts `facenet arguments…` without waiting (stdout to `stdout` when given).
    private func launch(_ arguments: [String], stdout: String? = nil) throws -> Process {
        let process = Process()
        process.executableURL = try FacenetBinary.url()
        process.arguments = arguments
        process.currentDirectoryURL = scratch.appendingPathComponent("work")
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = scratch.appendingPathComponent("home").path
        environment["FACENET_CACHE_DIR"] = scratch.appendingPathComponent("cache").path
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        if let stdout {
            _ = FileManager.default.createFile(atPath: stdout, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdout))
        } else {
            process.standardOutput = FileHandle.nullDevice
        }
        try process.run()
        return process
    }
}
