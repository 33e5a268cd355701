using System.Numerics.Tensors;
using Microsoft.Extensions.AI;

namespace LlmKit.Plugins.FewShot.Storage;

/// <summary>
/// Embeds every example input of a store once and keeps the vectors, L2-normalised, in one contiguous matrix so
/// cosine similarity is a vectorised dot product. The cache is rebuilt on first use after the store changes.
/// </summary>
/// <remarks>
/// Thread-safe: concurrent callers share one rebuild; readers get an immutable <see cref="ExampleEmbeddings"/>.
/// Share one cache between selectors over the same store (e.g. similarity and MMR) to embed only once.
/// </remarks>
public sealed class ExampleEmbeddingCache
{
    private readonly FewShotExampleStore _store;
    private readonly IEmbeddingGenerator<string, Embedding<float>> _generator;
    private readonly SemaphoreSlim _rebuild = new(1, 1);
    private ExampleEmbeddings? _current;

    /// <summary>Creates a cache over <paramref name="store"/> using <paramref name="generator"/>.</summary>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public ExampleEmbeddingCache(FewShotExampleStore store, IEmbeddingGenerator<string, Embedding<float>> generator)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(generator);
        _store = store;
        _generator = generator;
    }

    /// <summary>The generator used for examples; selectors embed queries with the same one.</summary>
    public IEmbeddingGenerator<string, Embedding<float>> Generator => _generator;

    /// <summary>How many times the example embeddings were (re)computed; useful to verify caching.</summary>
    public int BuildCount { get; private set; }

    /// <summary>Returns embeddings for the store's current examples, computing them if the store changed.</summary>
    /// <param name="cancellationToken">Cancels a rebuild.</param>
    /// <exception cref="InvalidOperationException">The generator returned the wrong number of vectors or vectors of differing length.</exception>
    public async ValueTask<ExampleEmbeddings> GetAsync(CancellationToken cancellationToken = default)
    {
        var snapshot = _store.GetSnapshot();
        var current = Volatile.Read(ref _current);
        if (current is not null && current.Version == snapshot.Version)
        {
            return current;
        }

        await _rebuild.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            snapshot = _store.GetSnapshot();
            current = _current;
            if (current is not null && current.Version == snapshot.Version)
            {
                return current;
            }

            current = await BuildAsync(snapshot, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _current, current);
            BuildCount++;
            return current;
        }
        finally
        {
            _rebuild.Release();
        }
    }

    /// <summary>Embeds one query with the cache's generator and L2-normalises it.</summary>
    /// <param name="text">The query text.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<float[]> EmbedQueryAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = await _generator.GenerateAsync([text], cancellationToken: cancellationToken).ConfigureAwait(false);
        if (result.Count != 1)
        {
            throw new InvalidOperationException($"The embedding generator returned {result.Count} vectors for one query.");
        }

        float[] vector = result[0].Vector.ToArray();
        Normalize(vector);
        return vector;
    }

    private async Task<ExampleEmbeddings> BuildAsync(StoreSnapshot snapshot, CancellationToken cancellationToken)
    {
        var examples = snapshot.Examples;
        if (examples.Count == 0)
        {
            return new ExampleEmbeddings(examples, [], 0, snapshot.Version);
        }

        var inputs = new string[examples.Count];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = examples[i].Input;
        }

        var embeddings = await _generator.GenerateAsync(inputs, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (embeddings.Count != examples.Count)
        {
            throw new InvalidOperationException($"The embedding generator returned {embeddings.Count} vectors for {examples.Count} examples.");
        }

        int dimensions = embeddings[0].Vector.Length;
        var matrix = new float[checked(dimensions * examples.Count)];
        for (int i = 0; i < embeddings.Count; i++)
        {
            var vector = embeddings[i].Vector.Span;
            if (vector.Length != dimensions)
            {
                throw new InvalidOperationException($"The embedding generator returned vectors of length {dimensions} and {vector.Length}; all must match.");
            }

            var row = matrix.AsSpan(i * dimensions, dimensions);
            vector.CopyTo(row);
            Normalize(row);
        }

        return new ExampleEmbeddings(examples, matrix, dimensions, snapshot.Version);
    }

    private static void Normalize(Span<float> vector)
    {
        float norm = TensorPrimitives.Norm(vector);
        if (norm > 0 && float.IsFinite(norm))
        {
            TensorPrimitives.Divide(vector, norm, vector);
        }
    }
}

/// <summary>L2-normalised embeddings of a store's examples at one version, one row per example.</summary>
public sealed class ExampleEmbeddings
{
    private readonly float[] _matrix;

    internal ExampleEmbeddings(IReadOnlyList<FewShotExample> examples, float[] matrix, int dimensions, long version)
    {
        Examples = examples;
        _matrix = matrix;
        Dimensions = dimensions;
        Version = version;
    }

    /// <summary>The embedded examples; row <c>i</c> belongs to <c>Examples[i]</c>.</summary>
    public IReadOnlyList<FewShotExample> Examples { get; }

    /// <summary>Vector length (0 when there are no examples).</summary>
    public int Dimensions { get; }

    /// <summary>The store version these embeddings belong to.</summary>
    public long Version { get; }

    /// <summary>The normalised embedding of example <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> Row(int index) => _matrix.AsSpan(index * Dimensions, Dimensions);

    /// <summary>Writes the cosine similarity of every example to <paramref name="normalizedQuery"/> into <paramref name="scores"/>.</summary>
    /// <exception cref="ArgumentException">The query length differs from <see cref="Dimensions"/> or <paramref name="scores"/> is too short.</exception>
    public void Similarities(ReadOnlySpan<float> normalizedQuery, Span<float> scores)
    {
        if (Examples.Count == 0)
        {
            return;
        }

        if (normalizedQuery.Length != Dimensions)
        {
            throw new ArgumentException($"The query vector has {normalizedQuery.Length} dimensions but the examples have {Dimensions}.", nameof(normalizedQuery));
        }

        if (scores.Length < Examples.Count)
        {
            throw new ArgumentException($"The score buffer holds {scores.Length} values but there are {Examples.Count} examples.", nameof(scores));
        }

        for (int i = 0; i < Examples.Count; i++)
        {
            scores[i] = TensorPrimitives.Dot(Row(i), normalizedQuery);
        }
    }
}
