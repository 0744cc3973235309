import CairnDigest
import LMDB
import Logging
import StoreLayout

/// Writing and verified reading of an extent's chunks.
///
/// A chunk value is a ``ChunkHeader`` followed by the data: chunks are
/// written with an XXH3-128 header and verified by whichever header they
/// hold (chunks of layouts 1 to 4 have a SHA-256). Every chunk of an extent
/// is full except the last.
extension ArtifactStore {
    /// Appends `bytes` to the content of `extent`, which holds `length`
    /// bytes so far, filling up a partial last chunk first.
    ///
    /// - Parameter alignedHeaders: when given, the headers of the pieces of
    ///   `bytes` that begin on a chunk boundary, as
    ///   ``ChunkGeometry/headersOfAlignedChunks(appendedAt:bytes:)`` computes
    ///   them; the chunks are then not hashed here.
    func appendChunks(
        _ txn: borrowing Transaction, extent: UInt64, length: UInt64, bytes: UnsafeRawBufferPointer,
        alignedHeaders: [ChunkHeader]? = nil
    ) throws {
        let chunkSize = Int(geometry.chunkSize)
        var (index, within) = geometry.position(of: length)
        var consumed = 0
        if within > 0, bytes.count > 0 {
            // Merge with the stored partial chunk: copy it out first, since
            // rewriting the key may reuse its pages.
            var merged = try verifiedChunk(txn, extent: extent, index: index, expectedCount: within, blob: nil)
            let take = min(chunkSize - within, bytes.count)
            merged.append(contentsOf: bytes[0..<take])
            try merged.withUnsafeBytes { try writeChunk(txn, extent: extent, index: index, data: $0, header: nil) }
            consumed = take
            index += 1
            within = 0
        }
        var piece = 0
        while consumed < bytes.count {
            let take = min(chunkSize, bytes.count - consumed)
            try writeChunk(
                txn, extent: extent, index: index,
                data: UnsafeRawBufferPointer(rebasing: bytes[consumed..<consumed + take]),
                header: alignedHeaders.map { $0[piece] })
            consumed += take
            index += 1
            piece += 1
        }
    }

    private func writeChunk(
        _ txn: borrowing Transaction, extent: UInt64, index: UInt32, data: UnsafeRawBufferPointer,
        header: ChunkHeader?
    ) throws {
        let header = header ?? ChunkHeader(for: data)
        try txn.reserve(
            count: ChunkHeader.byteCount + data.count, for: Keys.chunk(extent: extent, index: index),
            in: tables.chunks
        ) { out in
            header.write(to: out)
            UnsafeMutableRawBufferPointer(rebasing: out[ChunkHeader.byteCount...]).copyMemory(from: data)
        }
    }

    /// Calls `body` with the verified data of each chunk of `extent`
    /// overlapping `range`, in order, together with the offset of the chunk.
    ///
    /// Each chunk is checked against its header, of either form (see
    /// ``ChunkHeader``), before `body` sees a byte of it.
    ///
    /// - Parameter blob: the digest to report in an integrity error.
    func withVerifiedChunks(
        _ txn: borrowing Transaction, extent: UInt64, size: UInt64, range: Range<UInt64>, blob: SHA256Digest?,
        _ body: (_ chunkOffset: UInt64, _ data: UnsafeRawBufferPointer) throws -> Void
    ) throws {
        guard !range.isEmpty else { return }
        let chunkSize = UInt64(geometry.chunkSize)
        let first = geometry.position(of: range.lowerBound).index
        let last = geometry.position(of: range.upperBound - 1).index
        for index in first...last {
            let chunkOffset = UInt64(index) * chunkSize
            let expected = Int(min(chunkSize, size - chunkOffset))
            guard let value = try txn.get(Keys.chunk(extent: extent, index: index), in: tables.chunks),
                value.count == ChunkHeader.byteCount + expected
            else { throw integrityFailure(blob, extent: extent, index: index) }
            let data = UnsafeRawBufferPointer(rebasing: value[ChunkHeader.byteCount...])
            guard ChunkHeader.matches(UnsafeRawBufferPointer(rebasing: value[..<ChunkHeader.byteCount]), data: data)
            else {
                throw integrityFailure(blob, extent: extent, index: index)
            }
            try body(chunkOffset, data)
        }
    }

    /// The verified data of one chunk, copied out.
    func verifiedChunk(
        _ txn: borrowing Transaction, extent: UInt64, index: UInt32, expectedCount: Int, blob: SHA256Digest?
    ) throws -> [UInt8] {
        let chunkOffset = UInt64(index) * UInt64(geometry.chunkSize)
        var result: [UInt8] = []
        try withVerifiedChunks(
            txn, extent: extent, size: chunkOffset + UInt64(expectedCount),
            range: chunkOffset..<chunkOffset + UInt64(expectedCount), blob: blob
        ) { _, data in result = Array(data) }
        return result
    }

    private func integrityFailure(_ blob: SHA256Digest?, extent: UInt64, index: UInt32) -> StoreError {
        logger.error(
            "chunk failed verification",
            metadata: ["extent": "\(extent)", "chunk": "\(index)", "blob": "\(blob?.hex ?? "-")"])
        if let blob { return .integrity(blob) }
        return StoreError(.integrityError, .none, "stored bytes of an open upload failed verification")
    }

    /// Hands out a new extent number.
    func allocateExtent(_ txn: borrowing Transaction) throws -> UInt64 {
        guard let bytes = try txn.get(MetaKey.nextExtent, in: tables.meta), bytes.count == 8 else {
            throw StoreError(.internalError, .none, "the store's extent counter is damaged")
        }
        let extent = bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        var next: [UInt8] = []
        next.appendBigEndian(extent + 1)
        try txn.put(next, for: MetaKey.nextExtent, in: tables.meta)
        return extent
    }
}

extension ChunkGeometry {
    /// The chunk headers of the pieces of `bytes`, appended at `offset`, that
    /// begin on a chunk boundary: every piece after the one (if any) that
    /// fills up a partial chunk, each a whole chunk except perhaps the last.
    ///
    /// What ``ArtifactStore/appendChunks(_:extent:length:bytes:alignedHeaders:)``
    /// would otherwise compute on the writer.
    func headersOfAlignedChunks(appendedAt offset: UInt64, bytes: [UInt8]) -> [ChunkHeader] {
        let chunk = Int(chunkSize)
        let within = position(of: offset).within
        var start = within == 0 ? 0 : min(chunk - within, bytes.count)
        var headers: [ChunkHeader] = []
        headers.reserveCapacity((bytes.count - start + chunk - 1) / chunk)
        bytes.withUnsafeBytes { all in
            while start < bytes.count {
                let end = min(start + chunk, bytes.count)
                headers.append(ChunkHeader(for: UnsafeRawBufferPointer(rebasing: all[start..<end])))
                start = end
            }
        }
        return headers
    }
}
