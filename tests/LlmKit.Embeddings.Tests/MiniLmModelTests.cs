using System.Security.Cryptography;

namespace LlmKit.Embeddings.Tests;

/// <summary>Extraction of the offline model into a cache: once, verified, published by rename, damage detected.</summary>
[Collection(MiniLmCollection.Name)]
public sealed class MiniLmModelTests
{
    [Fact]
    public void Extracts_once_verifies_the_hash_and_detects_a_damaged_cache()
    {
        string cache = Path.Combine(Path.GetTempPath(), $"llmkit-cache-{Guid.NewGuid():N}");
        try
        {
            string folder = MiniLmModel.EnsureExtracted(cache);
            Assert.StartsWith(Path.Combine(cache, "models"), folder, StringComparison.Ordinal);
            using (var stream = File.OpenRead(Path.Combine(folder, "model.onnx")))
            {
                Assert.Equal(MiniLmModel.ModelSha256, Convert.ToHexStringLower(SHA256.HashData(stream)));
            }

            Assert.Empty(Directory.GetDirectories(Path.Combine(cache, "models"), "*.tmp-*"));
            var written = File.GetLastWriteTimeUtc(Path.Combine(folder, "model.onnx"));

            // Second call: same folder, nothing rewritten, full hash check passes.
            Assert.Equal(folder, MiniLmModel.EnsureExtracted(cache, verifyHash: true));
            Assert.Equal(written, File.GetLastWriteTimeUtc(Path.Combine(folder, "model.onnx")));

            // Same length, one byte changed: only the hash check sees it.
            using (var stream = new FileStream(Path.Combine(folder, "vocab.txt"), FileMode.Open, FileAccess.Write))
            {
                stream.Position = 100;
                stream.WriteByte((byte)'#');
            }

            var ex = Assert.Throws<InvalidDataException>(() => MiniLmModel.EnsureExtracted(cache, verifyHash: true));
            Assert.Contains("SHA-256", ex.Message, StringComparison.Ordinal);

            File.WriteAllText(Path.Combine(folder, "vocab.txt"), "truncated");
            var sizeError = Assert.Throws<InvalidDataException>(() => MiniLmModel.EnsureExtracted(cache));
            Assert.Contains("Delete", sizeError.Message, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(cache))
            {
                Directory.Delete(cache, recursive: true);
            }
        }
    }
}
