import Foundation
import FuzzSupport

/// PNG (and anything else) through the image decoder: sniffing, libpng's header and
/// pixels, the CRC policy, every colour type and depth, interlacing, eXIf orientation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    Fuzz.decodeImage(bytes, count, name: "fuzz.png")
    return 0
}

exit(Fuzz.run(fuzzPNG))
