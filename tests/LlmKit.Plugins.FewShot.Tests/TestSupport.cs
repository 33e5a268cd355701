using LlmKit.Embeddings;
using LlmKit.Testing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.ML.Tokenizers;

namespace LlmKit.Plugins.FewShot.Tests;

/// <summary>Real parts shared by the tests.</summary>
internal static class TestSupport
{
    /// <summary>The real stories260K SentencePiece tokenizer, as the LlmKit runtime exposes it (model converted once per run).</summary>
    public static Tokenizer Stories260KTokenizer => LoadedModels.Stories260K.Tokenizer.Inner;

    public static FewShotExample Example(string input, string output, string? label = null) => new(input, output, label);
}

/// <summary>The real hashing generator, counting how many texts it embeds (to observe caching).</summary>
internal sealed class CountingEmbeddingGenerator(IEmbeddingGenerator<string, Embedding<float>> inner) : IEmbeddingGenerator<string, Embedding<float>>
{
    private int _texts;

    public CountingEmbeddingGenerator()
        : this(new HashingEmbeddingGenerator())
    {
    }

    public int TextsEmbedded => Volatile.Read(ref _texts);

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = values.ToList();
        Interlocked.Add(ref _texts, list.Count);
        return inner.GenerateAsync(list, options, cancellationToken);
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => inner.GetService(serviceType, serviceKey);

    public void Dispose() => inner.Dispose();
}

/// <summary>Collects log entries so tests can assert on warnings.</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    public List<(LogLevel Level, string Message)> Entries { get; } = [];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (Entries)
        {
            Entries.Add((logLevel, formatter(state, exception)));
        }
    }
}
