import Foundation
import GatewayCore
import Mustache

/// The email templates of `templates/email`: for each ``NotificationKind``, a subject, a text part and
/// an HTML part (`KIND.subject.mustache`, `KIND.text.mustache`, `KIND.html.mustache`).
public struct EmailTemplates: Sendable {
    let library: MustacheLibrary

    /// Loads the templates from `directory` (the `email` folder inside it) and checks that every
    /// kind has its three templates.
    /// - Throws: ``NotificationError`` naming the missing or broken template.
    public init(directory: String) async throws {
        let folder = URL(fileURLWithPath: directory).appendingPathComponent("email").path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw NotificationError("the email templates folder \(folder) does not exist; set `templates` in the configuration")
        }
        do {
            library = try await MustacheLibrary(directory: folder)
        } catch let error as MustacheLibrary.ParserError {
            throw NotificationError("email template \(error.filename) line \(error.context.lineNumber): \(error.error)")
        }
        var missing: [String] = []
        for kind in NotificationKind.allCases {
            for part in ["subject", "text", "html"] where library.getTemplate(named: "\(kind.rawValue).\(part)") == nil {
                missing.append("\(kind.rawValue).\(part).mustache")
            }
        }
        guard missing.isEmpty else {
            throw NotificationError("email templates missing in \(folder): \(missing.joined(separator: ", "))")
        }
    }

    /// Renders one part of one kind with `context`.
    func render(_ kind: NotificationKind, part: String, context: [String: Any]) throws -> String {
        guard let text = library.render(context, withTemplate: "\(kind.rawValue).\(part)") else {
            throw NotificationError("email template \(kind.rawValue).\(part) did not render")
        }
        return text
    }
}

/// A notification could not be prepared: a template or setting problem, or the data it is about is gone.
public struct NotificationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
