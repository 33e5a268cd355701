namespace LlmKit.ModelBuilder.Lora;

/// <summary>
/// A projection a LoRA adapter can target, with the names it has in a PEFT checkpoint (<c>self_attn.q_proj</c>) and in
/// the graph the builder emits with LoRA inputs. Immutable.
/// </summary>
/// <param name="PeftName">The module path inside a decoder layer, as Hugging Face and PEFT name it (<c>mlp.down_proj</c>).</param>
/// <param name="GraphName">The node path the builder uses (<c>mlp/down_proj</c>).</param>
internal sealed record LoraModule(string PeftName, string GraphName)
{
    /// <summary>The seven projections of a Llama decoder layer, in graph order.</summary>
    public static readonly LoraModule[] All =
    [
        new("self_attn.q_proj", "attn/q_proj"),
        new("self_attn.k_proj", "attn/k_proj"),
        new("self_attn.v_proj", "attn/v_proj"),
        new("self_attn.o_proj", "attn/o_proj"),
        new("mlp.gate_proj", "mlp/gate_proj"),
        new("mlp.up_proj", "mlp/up_proj"),
        new("mlp.down_proj", "mlp/down_proj"),
    ];

    /// <summary>The prefix of the symbolic rank dimension of the LoRA inputs (zero in the base graph's default initializers).</summary>
    public const string RankDimension = "lora_rank";

    /// <summary>
    /// The symbolic rank dimension of this module's inputs in <paramref name="layer"/>: one per projection, because an
    /// adapter may target only some projections (the others keep rank 0), and ONNX Runtime's memory planner treats
    /// one shared symbolic dimension as one size (a shared name failed with "Shape mismatch attempting to re-use buffer").
    /// </summary>
    public string RankDimensionOf(int layer) => $"{RankDimension}_{layer}_{ShortName}";

    /// <summary>The short name (<c>q_proj</c>) that PEFT's <c>target_modules</c> lists.</summary>
    public string ShortName => PeftName[(PeftName.IndexOf('.') + 1)..];

    /// <summary>
    /// Graph input holding Aᵀ [in_features, rank] of layer <paramref name="layer"/> (PEFT's lora_A.weight is [rank, in]);
    /// named like the builder's other transposed weights ("...MatMul.weight").
    /// </summary>
    public string InputA(int layer) => $"model.layers.{layer}.{GraphName.Replace('/', '.')}.lora_A.MatMul.weight";

    /// <summary>Graph input holding scale·Bᵀ [rank, out_features] (PEFT's lora_B.weight is [out, rank]).</summary>
    public string InputB(int layer) => $"model.layers.{layer}.{GraphName.Replace('/', '.')}.lora_B.MatMul.weight";

    /// <summary>(out_features, in_features) of this projection in a model of shape <paramref name="c"/>.</summary>
    public (int Out, int In) Shape(LlamaConfig c) => ShortName switch
    {
        "q_proj" or "o_proj" => (c.Dim, c.Dim),
        "k_proj" or "v_proj" => (c.KvDim, c.Dim),
        "gate_proj" or "up_proj" => (c.HiddenDim, c.Dim),
        _ => (c.Dim, c.HiddenDim),
    };

    /// <summary>The module whose short name is <paramref name="shortName"/>, or null.</summary>
    public static LoraModule? ByShortName(string shortName) => Array.Find(All, m => m.ShortName == shortName);
}
