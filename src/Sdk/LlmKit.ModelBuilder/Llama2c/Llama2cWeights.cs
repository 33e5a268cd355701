namespace LlmKit.ModelBuilder;

/// <summary>
/// The float32 tensors of a llama2.c checkpoint, in llama2.c's layout: every projection is row-major
/// [out_features, in_features] (y = W·x) and per-layer tensors are stacked along a leading layer axis.
/// The arrays are exposed for speed; treat them as read-only. Safe for concurrent readers.
/// </summary>
public sealed class Llama2cWeights
{
    internal Llama2cWeights(LlamaConfig config)
    {
        int d = config.Dim, h = config.HiddenDim, l = config.Layers, kv = config.KvDim;
        TokenEmbedding = new float[(long)config.VocabSize * d];
        RmsAttention = new float[l * d];
        Wq = new float[(long)l * d * d];
        Wk = new float[(long)l * kv * d];
        Wv = new float[(long)l * kv * d];
        Wo = new float[(long)l * d * d];
        RmsFeedForward = new float[l * d];
        W1 = new float[(long)l * h * d];
        W2 = new float[(long)l * d * h];
        W3 = new float[(long)l * h * d];
        RmsFinal = new float[d];
        Classifier = config.SharedClassifier ? TokenEmbedding : new float[(long)config.VocabSize * d];
        Config = config;
    }

    private Llama2cWeights(Llama2cWeights source, LlamaConfig config)
    {
        TokenEmbedding = source.TokenEmbedding;
        RmsAttention = source.RmsAttention;
        Wq = source.Wq;
        Wk = source.Wk;
        Wv = source.Wv;
        Wo = source.Wo;
        RmsFeedForward = source.RmsFeedForward;
        W1 = source.W1;
        W2 = source.W2;
        W3 = source.W3;
        RmsFinal = source.RmsFinal;
        Classifier = source.Classifier;
        Config = config;
    }

    /// <summary>
    /// The same tensors (shared, not copied) under a config that differs only in what a llama2.c header cannot hold:
    /// RoPE theta, RoPE scaling and the norm epsilon.
    /// </summary>
    /// <param name="config">The new config; its shape must equal <see cref="Config"/>'s.</param>
    /// <exception cref="ArgumentException">The shape differs.</exception>
    public Llama2cWeights WithConfig(LlamaConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var sameShape = Config with { RopeTheta = config.RopeTheta, RopeScaling = config.RopeScaling, NormEps = config.NormEps };
        if (sameShape != config)
        {
            throw new ArgumentException($"The config's shape {config} differs from the weights' {Config}.", nameof(config));
        }

        config.Validate();
        return new Llama2cWeights(this, config);
    }

    /// <summary>The model shape these tensors belong to.</summary>
    public LlamaConfig Config { get; }

    /// <summary>Token embedding table [vocab, dim].</summary>
    public float[] TokenEmbedding { get; }

    /// <summary>Attention RMSNorm weights [layers, dim].</summary>
    public float[] RmsAttention { get; }

    /// <summary>Query projections [layers, dim, dim].</summary>
    public float[] Wq { get; }

    /// <summary>Key projections [layers, kv_dim, dim].</summary>
    public float[] Wk { get; }

    /// <summary>Value projections [layers, kv_dim, dim].</summary>
    public float[] Wv { get; }

    /// <summary>Attention output projections [layers, dim, dim].</summary>
    public float[] Wo { get; }

    /// <summary>Feed-forward RMSNorm weights [layers, dim].</summary>
    public float[] RmsFeedForward { get; }

    /// <summary>Gate projections [layers, hidden_dim, dim].</summary>
    public float[] W1 { get; }

    /// <summary>Down projections [layers, dim, hidden_dim].</summary>
    public float[] W2 { get; }

    /// <summary>Up projections [layers, hidden_dim, dim].</summary>
    public float[] W3 { get; }

    /// <summary>Final RMSNorm weights [dim].</summary>
    public float[] RmsFinal { get; }

    /// <summary>Classifier [vocab, dim]; the same array as <see cref="TokenEmbedding"/> when the classifier is shared.</summary>
    public float[] Classifier { get; }

    /// <summary>One layer's slice of a stacked tensor.</summary>
    /// <param name="stacked">A per-layer tensor from this object, e.g. <see cref="Wq"/>.</param>
    /// <param name="layer">Layer index in [0, Layers).</param>
    public ReadOnlyMemory<float> Layer(float[] stacked, int layer)
    {
        ArgumentNullException.ThrowIfNull(stacked);
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(layer, Config.Layers);
        int size = checked((int)(stacked.LongLength / Config.Layers));
        return new ReadOnlyMemory<float>(stacked, layer * size, size);
    }

    /// <summary>The tensors in file order (the order llama2.c writes them), with their names; the classifier last when not shared.</summary>
    internal IEnumerable<(string Name, float[] Data)> InFileOrder()
    {
        yield return ("token_embedding_table", TokenEmbedding);
        yield return ("rms_att_weight", RmsAttention);
        yield return ("wq", Wq);
        yield return ("wk", Wk);
        yield return ("wv", Wv);
        yield return ("wo", Wo);
        yield return ("rms_ffn_weight", RmsFeedForward);
        yield return ("w1", W1);
        yield return ("w2", W2);
        yield return ("w3", W3);
        yield return ("rms_final_weight", RmsFinal);
    }
}
