namespace LlmKit.Embeddings;

/// <summary>Settings of the offline default embedding model (<see cref="MiniLmModel"/>).</summary>
public sealed record MiniLmEmbeddingOptions
{
    /// <summary>The cache root the model is extracted to. Null: <see cref="MiniLmModel.DefaultCacheDirectory"/>.</summary>
    public string? CacheDirectory { get; set; }

    /// <summary>Re-hash the cached files on every load (about 0.2 s) rather than checking their sizes. Default false; extraction always verifies the hash.</summary>
    public bool VerifyHashOnLoad { get; set; }

    /// <summary>Settings of the generator (threads, providers, batch size, truncation). Pooling and normalisation come from the model's settings unless set here.</summary>
    public BertOnnxOptions Model { get; set; } = new();
}
