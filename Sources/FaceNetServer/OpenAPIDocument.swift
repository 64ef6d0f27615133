/// The OpenAPI 3 description `GET /openapi.yaml` serves. `OpenAPITests` keeps it true:
/// every route of the server is in it and every path in it is a route, and answers are
/// checked against the response schemas' required fields.
enum OpenAPIDocument {
    /// The document; the gallery's endpoints only when the server has one.
    static func yaml(gallery: Bool) -> String {
        header + paths + (gallery ? galleryPaths : "") + components
    }

    static let header = """
        openapi: 3.0.3
        info:
          title: facenet serve
          version: "1"
          description: >-
            FaceNet embeddings, verification, detection and gallery search over HTTP.
            Images are sent as a multipart file upload or as base64 (plain or a data URI);
            server-side paths and URLs are refused. Every error is {"error": {"code", "message"}}.
            With --api-key-file, every endpoint but /health needs "Authorization: Bearer <key>".
        security:
          - bearer: []

        """

    static let paths = """
        paths:
          /health:
            get:
              summary: The model is loaded and the server answers.
              security: []
              responses:
                "200":
                  description: Ready.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [status, model, gallery]
                        properties:
                          status: {type: string, enum: [ok]}
                          model: {type: string}
                          gallery: {type: boolean}
          /metrics:
            get:
              summary: Prometheus metrics (requests, latency, batch sizes, queue depth).
              responses:
                "200":
                  description: Prometheus text format.
                  content:
                    text/plain:
                      schema: {type: string}
                "401": {$ref: "#/components/responses/Error"}
          /openapi.yaml:
            get:
              summary: This document.
              responses:
                "200":
                  description: OpenAPI 3 YAML.
                  content:
                    application/yaml:
                      schema: {type: string}
                "401": {$ref: "#/components/responses/Error"}
          /represent:
            post:
              summary: Embeddings of the faces in an image (deepface's /represent).
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/RepresentRequest"}
                  multipart/form-data:
                    schema: {$ref: "#/components/schemas/RepresentRequest"}
              responses:
                "200":
                  description: One result per face, largest first.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [results]
                        properties:
                          results:
                            type: array
                            items:
                              type: object
                              required: [embedding, facial_area, face_confidence]
                              properties:
                                embedding: {type: array, items: {type: number}}
                                facial_area: {$ref: "#/components/schemas/FacialArea"}
                                face_confidence: {type: number}
                "400": {$ref: "#/components/responses/Error"}
                "401": {$ref: "#/components/responses/Error"}
                "408": {$ref: "#/components/responses/Error"}
                "413": {$ref: "#/components/responses/Error"}
                "503": {$ref: "#/components/responses/Error"}
          /verify:
            post:
              summary: Whether two images show the same person (deepface's /verify).
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/VerifyRequest"}
                  multipart/form-data:
                    schema: {$ref: "#/components/schemas/VerifyRequest"}
              responses:
                "200":
                  description: The decision, the distance and the faces compared.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [verified, distance, threshold, model, detector_backend, similarity_metric, facial_areas, time]
                        properties:
                          verified: {type: boolean}
                          distance: {type: number}
                          threshold: {type: number}
                          model: {type: string}
                          detector_backend: {type: string}
                          similarity_metric: {type: string}
                          facial_areas:
                            type: object
                            required: [img1, img2]
                            properties:
                              img1: {$ref: "#/components/schemas/FacialArea"}
                              img2: {$ref: "#/components/schemas/FacialArea"}
                          time: {type: number, description: seconds}
                "400": {$ref: "#/components/responses/Error"}
                "401": {$ref: "#/components/responses/Error"}
                "408": {$ref: "#/components/responses/Error"}
                "413": {$ref: "#/components/responses/Error"}
                "503": {$ref: "#/components/responses/Error"}
          /detect:
            post:
              summary: The faces MTCNN finds in an image, largest first.
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/DetectRequest"}
                  multipart/form-data:
                    schema: {$ref: "#/components/schemas/DetectRequest"}
              responses:
                "200":
                  description: Boxes, confidences and landmarks.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [width, height, faces]
                        properties:
                          width: {type: integer}
                          height: {type: integer}
                          faces: {type: array, items: {$ref: "#/components/schemas/Face"}}
                "400": {$ref: "#/components/responses/Error"}
                "401": {$ref: "#/components/responses/Error"}
                "408": {$ref: "#/components/responses/Error"}
                "413": {$ref: "#/components/responses/Error"}
                "503": {$ref: "#/components/responses/Error"}

        """

    static let galleryPaths = """
          /register:
            post:
              summary: Store the largest face of an image under an identity.
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/RegisterRequest"}
                  multipart/form-data:
                    schema: {$ref: "#/components/schemas/RegisterRequest"}
              responses:
                "201":
                  description: What was stored.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [identity, face_ids, faces]
                        properties:
                          identity: {type: string}
                          face_ids: {type: array, items: {type: integer}}
                          faces: {type: array, items: {$ref: "#/components/schemas/Face"}}
                "400": {$ref: "#/components/responses/Error"}
                "401": {$ref: "#/components/responses/Error"}
                "413": {$ref: "#/components/responses/Error"}
                "503": {$ref: "#/components/responses/Error"}
        \(OpenAPIDocument.searchPath("/search", summary: "The k nearest stored faces of every face of an image, or of an embedding."))
        \(OpenAPIDocument.searchPath("/find", summary: "The same as /search."))
          /identities/{name}:
            delete:
              summary: Remove every stored face of an identity.
              parameters:
                - {name: name, in: path, required: true, schema: {type: string}}
              responses:
                "200":
                  description: How many faces were removed.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [identity, removed]
                        properties:
                          identity: {type: string}
                          removed: {type: integer}
                "401": {$ref: "#/components/responses/Error"}
                "404": {$ref: "#/components/responses/Error"}

        """

    static let components = """
        components:
          securitySchemes:
            bearer: {type: http, scheme: bearer}
          responses:
            Error:
              description: 'What went wrong: {"error": {"code", "message"}}.'
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Error"}
            SearchResult:
              description: Matches per face (img) or for the embedding, nearest first, as `facenet find --json`.
              content:
                application/json:
                  schema:
                    type: object
                    required: [index]
                    properties:
                      index: {type: string}
                      faces:
                        type: array
                        items:
                          type: object
                          required: [box, confidence, matches]
                          properties:
                            box: {type: array, nullable: true, items: {type: integer}}
                            confidence: {type: number, nullable: true}
                            matches: {type: array, items: {$ref: "#/components/schemas/Match"}}
                      matches: {type: array, items: {$ref: "#/components/schemas/Match"}}
          schemas:
            Error:
              type: object
              required: [error]
              properties:
                error:
                  type: object
                  required: [code, message]
                  properties:
                    code: {type: string}
                    message: {type: string}
            Image:
              type: string
              minLength: 1
              description: >-
                The image: base64 (plain or data:image/...;base64,...) in JSON or a form field,
                or a file upload (multipart). Paths and URLs are refused.
            Boolean:
              description: JSON true/false, or the text "true"/"false" from a form.
              oneOf:
                - {type: boolean}
                - {type: string, enum: ["true", "false"]}
            RepresentRequest:
              type: object
              required: [img]
              properties:
                img: {$ref: "#/components/schemas/Image"}
                model_name: {type: string, description: "The served model's name, or deepface's Facenet512 / Facenet."}
                detector_backend: {type: string, enum: [mtcnn, skip], default: mtcnn}
                align: {$ref: "#/components/schemas/Boolean"}
                enforce_detection: {$ref: "#/components/schemas/Boolean"}
                max_faces: {type: integer, minimum: 1}
            VerifyRequest:
              type: object
              required: [img1, img2]
              properties:
                img1: {$ref: "#/components/schemas/Image"}
                img2: {$ref: "#/components/schemas/Image"}
                model_name: {type: string}
                detector_backend: {type: string, enum: [mtcnn, skip], default: mtcnn}
                distance_metric: {type: string, enum: [cosine, euclidean, euclidean_l2, angular], default: cosine}
                align: {$ref: "#/components/schemas/Boolean"}
                enforce_detection: {$ref: "#/components/schemas/Boolean"}
                threshold: {type: number}
            DetectRequest:
              type: object
              required: [img]
              properties:
                img: {$ref: "#/components/schemas/Image"}
                max_faces: {type: integer, minimum: 1}
            RegisterRequest:
              type: object
              required: [img, identity]
              properties:
                img: {$ref: "#/components/schemas/Image"}
                identity: {type: string, minLength: 1}
            SearchRequest:
              type: object
              anyOf:
                - {required: [img]}
                - {required: [embedding]}
              properties:
                img: {$ref: "#/components/schemas/Image"}
                embedding: {type: array, items: {type: number}}
                k: {type: integer, minimum: 1, default: 5}
                threshold: {type: number}
                distance_metric: {type: string, enum: [euclidean_l2, cosine, angular], default: euclidean_l2}
                max_faces: {type: integer, minimum: 1}
            FacialArea:
              type: object
              required: [x, y, w, h, left_eye, right_eye]
              properties:
                x: {type: integer}
                y: {type: integer}
                w: {type: integer}
                h: {type: integer}
                left_eye: {type: array, nullable: true, items: {type: integer}, description: "The person's left eye."}
                right_eye: {type: array, nullable: true, items: {type: integer}}
            Face:
              type: object
              required: [box, confidence, landmarks]
              properties:
                box: {type: array, items: {type: integer}, description: "[x, y, w, h]"}
                confidence: {type: number}
                landmarks:
                  type: object
                  properties:
                    left_eye: {type: array, items: {type: integer}}
                    right_eye: {type: array, items: {type: integer}}
                    nose: {type: array, items: {type: integer}}
                    mouth_left: {type: array, items: {type: integer}}
                    mouth_right: {type: array, items: {type: integer}}
            Match:
              type: object
              required: [identity, file, distance, threshold, verified, box, face_id]
              properties:
                identity: {type: string}
                file: {type: string, nullable: true}
                distance: {type: number}
                threshold: {type: number, nullable: true}
                verified: {type: boolean}
                box: {type: array, nullable: true, items: {type: integer}}
                face_id: {type: integer}

        """

    /// `/search` and `/find`: the same operation under two paths.
    static func searchPath(_ path: String, summary: String) -> String {
        """
          \(path):
            post:
              summary: \(summary)
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/SearchRequest"}
                  multipart/form-data:
                    schema: {$ref: "#/components/schemas/SearchRequest"}
              responses:
                "200": {$ref: "#/components/responses/SearchResult"}
                "400": {$ref: "#/components/responses/Error"}
                "401": {$ref: "#/components/responses/Error"}
                "413": {$ref: "#/components/responses/Error"}
                "503": {$ref: "#/components/responses/Error"}
        """
    }
}
