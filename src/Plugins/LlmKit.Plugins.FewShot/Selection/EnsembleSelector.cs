namespace LlmKit.Plugins.FewShot.Selection;

/// <summary>
/// Merges the rankings of several selectors with reciprocal-rank fusion (Cormack et al., 2009):
/// score(e) = Σᵢ wᵢ / (k + rankᵢ(e)), rank 1-based, an example missing from a ranking contributing nothing.
/// Useful to combine semantic similarity with BM25 so that both meaning and exact terms count.
/// Scores are the fused values; ties keep the order in which examples were first seen.
/// </summary>
/// <remarks>Thread-safe when the inner selectors are. Examples are matched by reference.</remarks>
public sealed class EnsembleSelector : IFewShotSelector
{
    private readonly IFewShotSelector[] _selectors;
    private readonly double[] _weights;

    /// <summary>Creates an equally weighted ensemble.</summary>
    /// <exception cref="ArgumentException">No selectors were given.</exception>
    public EnsembleSelector(params IFewShotSelector[] selectors)
        : this(selectors, weights: null)
    {
    }

    /// <summary>Creates a weighted ensemble.</summary>
    /// <param name="selectors">The selectors to fuse; at least one.</param>
    /// <param name="weights">One positive finite weight per selector, or null for all 1.</param>
    /// <param name="rankConstant">The RRF constant k (≥ 0); 60 as in the original paper.</param>
    /// <param name="candidateMultiplier">Each selector is asked for count × this many candidates (1 to 100). Default 5.</param>
    /// <exception cref="ArgumentException">No selectors, a null selector, or a weight count mismatch.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A weight, <paramref name="rankConstant"/> or <paramref name="candidateMultiplier"/> is outside its range.</exception>
    public EnsembleSelector(IReadOnlyList<IFewShotSelector> selectors, IReadOnlyList<double>? weights, double rankConstant = 60, int candidateMultiplier = 5)
    {
        ArgumentNullException.ThrowIfNull(selectors);
        if (selectors.Count == 0)
        {
            throw new ArgumentException("An ensemble needs at least one selector.", nameof(selectors));
        }

        if (selectors.Any(s => s is null))
        {
            throw new ArgumentException("The selectors must not contain null.", nameof(selectors));
        }

        if (weights is not null && weights.Count != selectors.Count)
        {
            throw new ArgumentException($"Got {weights.Count} weights for {selectors.Count} selectors; give one per selector.", nameof(weights));
        }

        if (weights is not null && weights.Any(w => !(w > 0 && double.IsFinite(w))))
        {
            throw new ArgumentOutOfRangeException(nameof(weights), "Every weight must be a positive finite number.");
        }

        if (!(rankConstant >= 0 && double.IsFinite(rankConstant)))
        {
            throw new ArgumentOutOfRangeException(nameof(rankConstant), rankConstant, "rankConstant must be a finite number >= 0.");
        }

        if (candidateMultiplier is < 1 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(candidateMultiplier), candidateMultiplier, "candidateMultiplier must be between 1 and 100.");
        }

        _selectors = [.. selectors];
        _weights = weights is null ? Enumerable.Repeat(1.0, selectors.Count).ToArray() : [.. weights];
        RankConstant = rankConstant;
        CandidateMultiplier = candidateMultiplier;
    }

    /// <summary>The RRF constant k.</summary>
    public double RankConstant { get; }

    /// <summary>Multiplier for the number of candidates asked of each selector.</summary>
    public int CandidateMultiplier { get; }

    /// <inheritdoc />
    public async Task<IReadOnlyList<SelectedExample>> SelectAsync(string input, int count, CancellationToken cancellationToken = default)
    {
        SelectorGuard.CheckArguments(input, count);
        int candidateCount = (int)Math.Min(int.MaxValue, (long)count * CandidateMultiplier);
        var rankings = await Task.WhenAll(_selectors.Select(s => s.SelectAsync(input, candidateCount, cancellationToken))).ConfigureAwait(false);
        var fused = new Dictionary<FewShotExample, (double Score, int FirstSeen)>(ReferenceEqualityComparer.Instance);
        for (int s = 0; s < rankings.Length; s++)
        {
            var ranking = rankings[s];
            for (int rank = 0; rank < ranking.Count; rank++)
            {
                var example = ranking[rank].Example;
                double contribution = _weights[s] / (RankConstant + rank + 1);
                fused[example] = fused.TryGetValue(example, out var entry)
                    ? (entry.Score + contribution, entry.FirstSeen)
                    : (contribution, fused.Count);
            }
        }

        return fused
            .OrderByDescending(p => p.Value.Score)
            .ThenBy(p => p.Value.FirstSeen)
            .Take(count)
            .Select(p => new SelectedExample(p.Key, p.Value.Score))
            .ToArray();
    }
}
