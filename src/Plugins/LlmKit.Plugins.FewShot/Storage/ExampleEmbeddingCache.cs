using System.Buffers;
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
    private const int BatchSize = 256;

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

    /// <summary>
    /// Scores <paramref name="query"/> against every cached example (cosine) and hands the embeddings and the scores
    /// to <paramref name="select"/>. The scores live in a pooled array (at least one entry per example) that is
    /// returned to the pool afterwards, so <paramref name="select"/> must not keep it. An empty pool selects nothing.
    /// </summary>
    internal async Task<SelectedExample[]> SelectByQueryAsync(string query, Func<ExampleEmbeddings, float[], SelectedExample[]> select, CancellationToken cancellationToken)
    {
        var embeddings = await GetAsync(cancellationToken).ConfigureAwait(false);
        int n = embeddings.Examples.Count;
        if (n == 0)
        {
            return [];
        }

        float[] vector = await EmbedQueryAsync(query, cancellationToken).ConfigureAwait(false);
        float[] scores = ArrayPool<float>.Shared.Rent(n);
        try
        {
            embeddings.Similarities(vector, scores);
            return select(embeddings, scores);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scores);
        }
    }

    private async Task<ExampleEmbeddings> BuildAsync(StoreSnapshot snapshot, CancellationToken cancellationToken)
    {
        var examples = snapshot.Examples;
        if (examples.Count == 0)
        {
            return new ExampleEmbeddings(examples, [], 0, snapshot.Version);
        }

        // Batches keep each request within the limits of remote embedding services.
        var embeddings = new List<Embedding<float>>(examples.Count);
        for (int start = 0; start < examples.Count; start += BatchSize)
        {
            int size = Math.Min(BatchSize, examples.Count - start);
            var inputs = new string[size];
            for (int i = 0; i < size; i++)
            {
                inputs[i] = examples[start + i].Input;
            }

            var batch = await _generator.GenerateAsync(inputs, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (batch.Count != size)
            {
                throw new InvalidOperationException($"The embedding generator returned {batch.Count} vectors for {size} inputs.");
            }

            embeddings.AddRange(batch);
        }

        int dimensions = embeddings[0].Vector.Length;
        int n = examples.Count;
        // Column-major (one column per dimension): a query then touches only the columns where it is non-zero,
        // and each column is one contiguous vectorised multiply-add over all examples.
        var columns = new float[checked(dimensions * n)];
        var row = new float[dimensions];
        for (int i = 0; i < n; i++)
        {
            var vector = embeddings[i].Vector.Span;
            if (vector.Length != dimensions)
            {
                throw new InvalidOperationException($"The embedding generator returned vectors of length {dimensions} and {vector.Length}; all must match.");
            }

            vector.CopyTo(row);
            Normalize(row);
            for (int j = 0; j < dimensions; j++)
            {
                columns[(j * n) + i] = row[j];
            }
        }

        return new ExampleEmbeddings(examples, columns, dimensions, snapshot.Version);
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

/// <summary>
/// L2-normalised embeddings of a store's examples at one version. Stored column-major so that a similarity pass reads
/// only the dimensions where the query is non-zero (sparse queries such as hashing embeddings touch a fraction of the
/// matrix; dense queries cost the same as a row-major pass).
/// </summary>
public sealed class ExampleEmbeddings
{
    private readonly float[] _columns;

    internal ExampleEmbeddings(IReadOnlyList<FewShotExample> examples, float[] columns, int dimensions, long version)
    {
        Examples = examples;
        _columns = columns;
        Dimensions = dimensions;
        Version = version;
    }

    /// <summary>The embedded examples; vector <c>i</c> belongs to <c>Examples[i]</c>.</summary>
    public IReadOnlyList<FewShotExample> Examples { get; }

    /// <summary>Vector length (0 when there are no examples).</summary>
    public int Dimensions { get; }

    /// <summary>The store version these embeddings belong to.</summary>
    public long Version { get; }

    /// <summary>Copies the normalised embedding of example <paramref name="index"/> into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not a valid example index.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="Dimensions"/>.</exception>
    public void CopyVector(int index, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Examples.Count);
        if (destination.Length < Dimensions)
        {
            throw new ArgumentException($"The destination holds {destination.Length} values but vectors have {Dimensions}.", nameof(destination));
        }

        int n = Examples.Count;
        for (int j = 0; j < Dimensions; j++)
        {
            destination[j] = _columns[(j * n) + index];
        }
    }

    /// <summary>Writes the cosine similarity of every example to <paramref name="normalizedQuery"/> into <paramref name="scores"/>.</summary>
    /// <exception cref="ArgumentException">The query length differs from <see cref="Dimensions"/> or <paramref name="scores"/> is too short.</exception>
    public void Similarities(ReadOnlySpan<float> normalizedQuery, Span<float> scores)
    {
        int n = Examples.Count;
        if (n == 0)
        {
            return;
        }

        if (normalizedQuery.Length != Dimensions)
        {
            throw new ArgumentException($"The query vector has {normalizedQuery.Length} dimensions but the examples have {Dimensions}.", nameof(normalizedQuery));
        }

        if (scores.Length < n)
        {
            throw new ArgumentException($"The score buffer holds {scores.Length} values but there are {n} examples.", nameof(scores));
        }

        var result = scores[..n];
        result.Clear();
        for (int j = 0; j < Dimensions; j++)
        {
            float weight = normalizedQuery[j];
            if (weight != 0)
            {
                TensorPrimitives.MultiplyAdd(_columns.AsSpan(j * n, n), weight, result, result);
            }
        }
    }
}
