using LlmKit.ModelBuilder.Onnx;
using LlmKit.ModelBuilder.Onnx.Protos;

namespace LlmKit.ModelBuilder.Lora;

/// <summary>
/// Wraps a decoder's projections with LoRA inputs, for both emitters (llama2.c and Hugging Face): y = x·W + (x·A)·B
/// where A [in, r] and B [r, out] are float32 graph inputs named by <see cref="LoraModule"/>, with
/// rank-0 default initializers so the base model runs unchanged until an adapter supplies them. Records in the model
/// metadata which row order the q/k weights use, so <see cref="LoraAdapterConverter"/> can tell the bases apart. Not
/// thread-safe (one per graph being built).
/// </summary>
internal sealed class LoraGraphInputs(GraphBuilder graph)
{
    /// <summary>Model metadata key naming the q/k row order of the base (<see cref="Llama2cRowOrder"/> or <see cref="HuggingFaceRowOrder"/>).</summary>
    public const string RowOrderMetadataKey = "llmkit.lora_row_order";

    /// <summary>q/k output rows in llama2.c's adjacent-pair RoPE order.</summary>
    public const string Llama2cRowOrder = "llama2c";

    /// <summary>q/k output rows as in the Hugging Face checkpoint (half-rotation RoPE): PEFT tensors apply as they are.</summary>
    public const string HuggingFaceRowOrder = "huggingface";

    /// <summary>Adds <paramref name="module"/>'s LoRA delta to <paramref name="baseOutput"/> (the projection of <paramref name="input"/>).</summary>
    public string Wrap(int layer, LoraModule module, string input, string baseOutput, int outFeatures, int inFeatures) =>
        graph.Node("Add", $"/model/layers.{layer}/{module.GraphName}/lora/Add", [baseOutput, Delta(layer, module, input, outFeatures, inFeatures)]);

    /// <summary>Adds the q, k and v deltas, side by side in [q | k | v] order, to a packed qkv projection output.</summary>
    public string WrapPacked(int layer, string input, string packedOutput, int qFeatures, int kvFeatures, int inFeatures)
    {
        string[] deltas =
        [
            Delta(layer, LoraModule.All[0], input, qFeatures, inFeatures),
            Delta(layer, LoraModule.All[1], input, kvFeatures, inFeatures),
            Delta(layer, LoraModule.All[2], input, kvFeatures, inFeatures),
        ];
        string p = $"/model/layers.{layer}/attn/qkv_proj/lora";
        string packed = graph.Node("Concat", $"{p}/Concat", deltas, GraphBuilder.Attr("axis", -1L));
        return graph.Node("Add", $"{p}/Add", [packedOutput, packed]);
    }

    /// <summary>Records the base's q/k row order in the model metadata.</summary>
    public static void AddMetadata(ModelProto model, string rowOrder) =>
        model.MetadataProps.Add(new StringStringEntryProto { Key = RowOrderMetadataKey, Value = rowOrder });

    // (x·A)·B with A [in, r] and B [r, out] as graph inputs over rank-0 default initializers: zeros until an adapter is active.
    private string Delta(int layer, LoraModule module, string input, int outFeatures, int inFeatures)
    {
        string a = module.InputA(layer), b = module.InputB(layer);
        string rank = module.RankDimensionOf(layer);
        graph.Input(a, GraphBuilder.Float, inFeatures, rank);
        graph.Input(b, GraphBuilder.Float, rank, outFeatures);
        graph.Initializer(TensorStore.Float32(a, [inFeatures, 0]));
        graph.Initializer(TensorStore.Float32(b, [0, outFeatures]));
        string p = $"/model/layers.{layer}/{module.GraphName}/lora";
        string xa = graph.Node("MatMul", $"{p}/A/MatMul", [input, a]);
        return graph.Node("MatMul", $"{p}/B/MatMul", [xa, b]);
    }
}
