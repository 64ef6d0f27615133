// README.md's FaceNetGallery snippet ("From Swift (the `FaceNetGallery` product)"),
// verbatim, in the function below: ReadmeGallerySnippetTests checks that the README's block
// occurs here line for line (indentation aside) and runs it. This file imports only what an
// app imports (no XCTest, no @testable) and holds nothing but the snippet and a `return`.
import FaceNetGallery
import FaceNetKit

func readmeGallerySnippet() async throws -> FaceGallery {
    let facenet = try FaceNet(preset: .facenet512Casia)
    let model = try GalleryModel(facenet: facenet, model: "facenet512-casia")
    let gallery = try await FaceGallery.create("people.sqlite", model: model)  // or FaceGallery.open
    try await gallery.add(photos: [(file: "alice1.jpg", identity: "alice"), (file: "bob1.jpg", identity: "bob")],
                          with: facenet, model: "facenet512-casia")
    let found = try await gallery.search(photo: "group.jpg", with: facenet, model: "facenet512-casia", k: 3)
    for (face, matches) in found.faces {
        print(face.map { "\($0.box)" } ?? "the whole image", matches.map { "\($0.identity) \($0.distance) \($0.verified)" })
    }
    return gallery
}
