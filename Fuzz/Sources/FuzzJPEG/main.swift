import Foundation
import FuzzSupport

/// JPEG (and anything else) through the image decoder: sniffing, libjpeg's header and
/// pixels, the warning policy, CMYK conversion, EXIF orientation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEG(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    Fuzz.decodeImage(bytes, count, name: "fuzz.jpg")
    return 0
}

exit(Fuzz.run(fuzzJPEG))
