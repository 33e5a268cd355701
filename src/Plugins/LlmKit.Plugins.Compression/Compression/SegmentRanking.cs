namespace LlmKit.Plugins.Compression;

/// <summary>How the question-aware stage ranks a context's segments (sentences or lines) by relevance to the question.</summary>
public enum SegmentRanking
{
    /// <summary>
    /// Embedding similarity when the compressor has an embedding generator; otherwise the scorer's log P(question | segment)
    /// fused with BM25 by summed z-scores (BM25 alone when the scorer is the model-free <see cref="Scoring.StatisticalTokenScorer"/>).
    /// </summary>
    Auto,

    /// <summary>Mean log P(question | segment) under the <see cref="LlmKit.Scoring.ITokenScorer"/> (LongLLMLingua's coarse measure).</summary>
    LogProbability,

    /// <summary>Okapi BM25 of the question's words against each segment's words (no model needed).</summary>
    Bm25,

    /// <summary>Cosine similarity of question and segment embeddings; needs an embedding generator.</summary>
    Embedding,

    /// <summary>The sum of the z-scores of <see cref="LogProbability"/> and <see cref="Bm25"/> (a ranker that sees no difference adds nothing).</summary>
    LogProbabilityAndBm25,
}
