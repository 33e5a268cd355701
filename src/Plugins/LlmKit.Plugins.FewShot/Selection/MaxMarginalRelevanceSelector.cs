using System.Numerics.Tensors;
using LlmKit.Plugins.FewShot.Storage;
using Microsoft.Extensions.AI;

namespace LlmKit.Plugins.FewShot.Selection;

/// <summary>
/// Maximal marginal relevance (Carbonell and Goldstein, 1998): takes the <see cref="FetchCount"/> most similar
/// candidates, then repeatedly adds the one maximising λ·sim(query, c) − (1 − λ)·max sim(c, already chosen), so
/// near-duplicates of a chosen example lose to a slightly less similar but different one.
/// Scores are the MMR objective at the moment each example was chosen.
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed class MaxMarginalRelevanceSelector : IFewShotSelector
{
    private readonly ExampleEmbeddingCache _cache;

    /// <summary>Creates an MMR selector over a shared embedding cache.</summary>
    /// <param name="cache">Example embeddings.</param>
    /// <param name="lambda">Relevance weight λ in [0, 1]: 1 is plain similarity, 0 is pure diversity. Default 0.5.</param>
    /// <param name="fetchCount">How many of the most similar examples are considered; at least 1, default 20 (raised to the requested count when smaller).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lambda"/> or <paramref name="fetchCount"/> is outside its range.</exception>
    public MaxMarginalRelevanceSelector(ExampleEmbeddingCache cache, double lambda = 0.5, int fetchCount = 20)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (!(lambda is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(lambda), lambda, "lambda must be between 0 and 1.");
        }

        if (fetchCount < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(fetchCount), fetchCount, "fetchCount must be at least 1.");
        }

        _cache = cache;
        Lambda = lambda;
        FetchCount = fetchCount;
    }

    /// <summary>Creates an MMR selector with its own embedding cache.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lambda"/> or <paramref name="fetchCount"/> is outside its range.</exception>
    public MaxMarginalRelevanceSelector(FewShotExampleStore store, IEmbeddingGenerator<string, Embedding<float>> generator, double lambda = 0.5, int fetchCount = 20)
        : this(new ExampleEmbeddingCache(store, generator), lambda, fetchCount)
    {
    }

    /// <summary>Relevance weight λ.</summary>
    public double Lambda { get; }

    /// <summary>Number of most-similar candidates considered.</summary>
    public int FetchCount { get; }

    /// <inheritdoc />
    public async Task<IReadOnlyList<SelectedExample>> SelectAsync(string input, int count, CancellationToken cancellationToken = default)
    {
        SelectorGuard.CheckArguments(input, count);
        return await _cache.SelectByQueryAsync(input, (embeddings, scores) =>
        {
            int[] candidates = TopK.Largest(scores.AsSpan(0, embeddings.Examples.Count), Math.Max(FetchCount, count));
            return Rerank(embeddings, candidates, scores, Math.Min(count, candidates.Length));
        }, cancellationToken).ConfigureAwait(false);
    }

    private SelectedExample[] Rerank(ExampleEmbeddings embeddings, int[] candidates, float[] relevance, int count)
    {
        // Gather the few candidate vectors once; redundancy is then dot products between them.
        int d = embeddings.Dimensions;
        var vectors = new float[candidates.Length * d];
        for (int c = 0; c < candidates.Length; c++)
        {
            embeddings.CopyVector(candidates[c], vectors.AsSpan(c * d, d));
        }

        var result = new SelectedExample[count];
        var taken = new bool[candidates.Length];
        // maxSimilarity[c] = highest similarity of candidate c to anything chosen so far.
        var maxSimilarity = new float[candidates.Length];
        Array.Fill(maxSimilarity, float.NegativeInfinity);
        for (int round = 0; round < count; round++)
        {
            int bestCandidate = -1;
            double bestScore = double.NegativeInfinity;
            for (int c = 0; c < candidates.Length; c++)
            {
                if (taken[c])
                {
                    continue;
                }

                double redundancy = round == 0 ? 0 : maxSimilarity[c];
                double score = (Lambda * relevance[candidates[c]]) - ((1 - Lambda) * redundancy);
                if (score > bestScore)
                {
                    bestScore = score;
                    bestCandidate = c;
                }
            }

            taken[bestCandidate] = true;
            result[round] = new SelectedExample(embeddings.Examples[candidates[bestCandidate]], bestScore);
            var chosen = vectors.AsSpan(bestCandidate * d, d);
            for (int c = 0; c < candidates.Length; c++)
            {
                if (!taken[c])
                {
                    float similarity = TensorPrimitives.Dot(vectors.AsSpan(c * d, d), chosen);
                    maxSimilarity[c] = Math.Max(maxSimilarity[c], similarity);
                }
            }
        }

        return result;
    }
}
