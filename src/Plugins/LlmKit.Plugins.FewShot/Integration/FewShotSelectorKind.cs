namespace LlmKit.Plugins.FewShot.Integration;

/// <summary>Which selector <c>AddFewShot</c> registers.</summary>
public enum FewShotSelectorKind
{
    /// <summary>Cosine similarity over embeddings (<see cref="Selection.SemanticSimilaritySelector"/>). The default.</summary>
    Similarity = 0,

    /// <summary>Maximal marginal relevance (<see cref="Selection.MaxMarginalRelevanceSelector"/>).</summary>
    MaxMarginalRelevance = 1,

    /// <summary>Lexical BM25 (<see cref="Selection.Bm25Selector"/>); needs no embeddings.</summary>
    Bm25 = 2,

    /// <summary>Seeded random draws (<see cref="Selection.RandomSelector"/>); the baseline.</summary>
    Random = 3,

    /// <summary>Reciprocal-rank fusion of similarity and BM25 (<see cref="Selection.EnsembleSelector"/>).</summary>
    Ensemble = 4,
}
