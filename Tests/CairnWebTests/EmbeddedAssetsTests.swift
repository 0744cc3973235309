import Foundation
import Testing

@testable import CairnWeb

/// The generated Sources/CairnWeb/EmbeddedAssets.swift holds exactly the files of Sources/CairnWeb/Assets/.
@Suite struct EmbeddedAssetsTests {
    static let assetsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/CairnWeb/Assets")

    @Test func theEmbeddedAssetsAreTheFilesInTheRepository() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.assetsDirectory.path).sorted()
        #expect(EmbeddedAssets.all.map(\.name) == names, "run tools/embed-web-assets")
        for name in names {
            let text = try String(contentsOf: Self.assetsDirectory.appendingPathComponent(name), encoding: .utf8)
            #expect(EmbeddedAssets.named(name)?.text == text, "\(name) changed: run tools/embed-web-assets")
        }
    }

    @Test func thePageHasNoInlineScriptOrStyleAndNothingFromAnotherHost() throws {
        let page = try #require(EmbeddedAssets.named("index.html")).text
        // Every script has a src on this host; no style attribute or element; no http(s) URL.
        let scripts = page.components(separatedBy: "<script").dropFirst()
        #expect(!scripts.isEmpty && scripts.allSatisfy { $0.hasPrefix(" src=\"/assets/") })
        #expect(!page.contains("<style") && !page.contains("style="))
        #expect(page.range(of: #" on[a-z]+="#, options: .regularExpression) == nil, "no inline event handlers")
        for asset in EmbeddedAssets.all {
            #expect(!asset.text.contains("http://") && !asset.text.contains("https://"), "\(asset.name)")
            #expect(!asset.text.contains("innerHTML") && !asset.text.contains("eval("), "\(asset.name)")
        }
    }
}
