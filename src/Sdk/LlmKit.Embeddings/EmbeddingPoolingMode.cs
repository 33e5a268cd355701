namespace LlmKit.Embeddings;

/// <summary>How the encoder's per-token vectors become one sentence vector.</summary>
public enum EmbeddingPoolingMode
{
    /// <summary>Average of the token vectors under the attention mask (sentence-transformers <c>pooling_mode_mean_tokens</c>).</summary>
    Mean,

    /// <summary>The vector of the first token, <c>[CLS]</c> (<c>pooling_mode_cls_token</c>).</summary>
    Cls,

    /// <summary>Element-wise maximum over the token vectors under the attention mask (<c>pooling_mode_max_tokens</c>).</summary>
    Max,
}
