namespace LlmKit.ModelBuilder;

/// <summary>
/// Refuses checkpoints with NaN or infinite weights. Such a model converts and loads, but every logit becomes NaN
/// and greedy decoding then picks token 0 forever, so the failure would surface far from its cause.
/// </summary>
internal static class FiniteWeights
{
    /// <summary>Throws naming the first tensor, layer and element that is not finite.</summary>
    /// <exception cref="InvalidDataException">A weight is NaN or infinite.</exception>
    public static void Check(Llama2cCheckpoint checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var weights = checkpoint.Weights;
        var tensors = weights.InFileOrder().ToList();
        if (!weights.Config.SharedClassifier)
        {
            tensors.Add(("wcls", weights.Classifier));
        }

        foreach (var (name, data) in tensors)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long index = FirstNonFinite(data);
            if (index >= 0)
            {
                throw new InvalidDataException(
                    $"Checkpoint '{checkpoint.Path}': tensor '{name}' holds {Describe(data[index])} at {Locate(name, index, weights.Config)}; " +
                    "a model with non-finite weights produces NaN logits. Re-export the checkpoint.");
            }
        }
    }

    private static long FirstNonFinite(float[] data)
    {
        for (long i = 0; i < data.LongLength; i++)
        {
            if (!float.IsFinite(data[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static string Describe(float value) => float.IsNaN(value) ? "NaN" : value > 0 ? "+Infinity" : "-Infinity";

    // Stacked per-layer tensors are [layers, ...]: give the layer and the element within it.
    private static string Locate(string name, long index, LlamaConfig config)
    {
        bool perLayer = name is not ("token_embedding_table" or "rms_final_weight" or "wcls");
        if (!perLayer)
        {
            return $"element {index}";
        }

        long perLayerSize = LayerSize(name, config);
        return $"layer {index / perLayerSize}, element {index % perLayerSize}";
    }

    private static long LayerSize(string name, LlamaConfig config)
    {
        long d = config.Dim, h = config.HiddenDim, kv = config.KvDim;
        return name switch
        {
            "rms_att_weight" or "rms_ffn_weight" => d,
            "wq" or "wo" => d * d,
            "wk" or "wv" => kv * d,
            _ => h * d, // w1, w2, w3
        };
    }
}
