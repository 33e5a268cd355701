using LlmKit.Plugins.FewShot.Storage;
using Microsoft.Extensions.AI;

namespace LlmKit.Plugins.FewShot.Selection;

/// <summary>
/// Picks the examples whose inputs are most similar to the query: cosine similarity between embeddings
/// (the example embeddings are cached; one query embedding and one vectorised pass over the pool per call).
/// Scores are cosine similarities in [-1, 1].
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed class SemanticSimilaritySelector : IFewShotSelector
{
    private readonly ExampleEmbeddingCache _cache;

    /// <summary>Creates a selector over a shared embedding cache.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="cache"/> is null.</exception>
    public SemanticSimilaritySelector(ExampleEmbeddingCache cache)
    {
        ArgumentNullException.ThrowIfNull(cache);
        _cache = cache;
    }

    /// <summary>Creates a selector with its own embedding cache over <paramref name="store"/>.</summary>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public SemanticSimilaritySelector(FewShotExampleStore store, IEmbeddingGenerator<string, Embedding<float>> generator)
        : this(new ExampleEmbeddingCache(store, generator))
    {
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<SelectedExample>> SelectAsync(string input, int count, CancellationToken cancellationToken = default)
    {
        SelectorGuard.CheckArguments(input, count);
        return await _cache.SelectByQueryAsync(input, (embeddings, scores) =>
        {
            int[] top = TopK.Largest(scores.AsSpan(0, embeddings.Examples.Count), count);
            var result = new SelectedExample[top.Length];
            for (int i = 0; i < top.Length; i++)
            {
                result[i] = new SelectedExample(embeddings.Examples[top[i]], scores[top[i]]);
            }

            return result;
        }, cancellationToken).ConfigureAwait(false);
    }
}
