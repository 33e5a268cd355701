namespace LlmKit.ModelBuilder.Onnx;

/// <summary>The decoder's inputs and outputs, named and shaped as the official ORT GenAI builder names them.</summary>
internal static class DecoderIo
{
    public const string Batch = "batch_size";
    public const string Sequence = "sequence_length";
    public const string TotalSequence = "total_sequence_length";
    public const string PastSequence = "past_sequence_length";

    public static void DeclareInputsAndOutputs(GraphBuilder g, LlamaConfig c, bool withPositionIds)
    {
        g.Input("input_ids", GraphBuilder.Int64, Batch, Sequence);
        g.Input("attention_mask", GraphBuilder.Int64, Batch, TotalSequence);
        if (withPositionIds)
        {
            g.Input("position_ids", GraphBuilder.Int64, Batch, Sequence);
        }

        for (int l = 0; l < c.Layers; l++)
        {
            g.Input($"past_key_values.{l}.key", GraphBuilder.Float, Batch, c.KvHeads, PastSequence, c.HeadSize);
            g.Input($"past_key_values.{l}.value", GraphBuilder.Float, Batch, c.KvHeads, PastSequence, c.HeadSize);
        }

        g.Output("logits", GraphBuilder.Float, Batch, Sequence, c.VocabSize);
        for (int l = 0; l < c.Layers; l++)
        {
            g.Output($"present.{l}.key", GraphBuilder.Float, Batch, c.KvHeads, TotalSequence, c.HeadSize);
            g.Output($"present.{l}.value", GraphBuilder.Float, Batch, c.KvHeads, TotalSequence, c.HeadSize);
        }
    }
}
