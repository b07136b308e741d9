import Foundation

/// Turns a file-reading error into a sentence a person can act on.
enum FileProblem {
    static func describe(_ error: any Error, path: String, what: String) -> String {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            return "the \(what) does not exist"
        }
        if isDirectory.boolValue { return "the \(what) path is a directory" }
        if !FileManager.default.isReadableFile(atPath: path) { return "the \(what) is not readable (check its permissions)" }
        return "cannot read the \(what) as UTF-8 text: \(error.localizedDescription)"
    }
}
